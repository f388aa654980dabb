"""NeoSafe's clinical safety file (DCB0129): the hazard log as data and the page drawn from it. Not shipped."""
