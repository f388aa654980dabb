"""Where the handover goes: the routes live in app.handover.routes, so that the discharge checklist can be pre-filled
with the recipients NeoSafe will send to (D10), from the same file and the same rules as the delivery."""

from app.handover.routes import ODS_SYSTEM, NotReachable, Route, Routes, Unit, load_routes

__all__ = ["ODS_SYSTEM", "NotReachable", "Route", "Routes", "Unit", "load_routes"]
