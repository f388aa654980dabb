"""NeoSafe: safeguarding checklists for neonatal units."""
