"""Delivering the discharge handover to the GP practice and the community teams (issue 16), and knowing it arrived."""

from app.handover.routes import Route, Routes, load_routes

from .channels import Arrival, Channel, FhirEndpointChannel, MeshChannel, NotSent, Outgoing
from .engine import DeliveryEngine, deliveries_of
from .follow_up import FollowUp, handovers_to_follow_up
from .message import handover_message
from .models import Delivery
from .view import Shown, shown_deliveries
from .worker import Deliveries

__all__ = [
    "Arrival",
    "Channel",
    "Deliveries",
    "Delivery",
    "DeliveryEngine",
    "FhirEndpointChannel",
    "FollowUp",
    "MeshChannel",
    "NotSent",
    "Outgoing",
    "Route",
    "Routes",
    "Shown",
    "deliveries_of",
    "handover_message",
    "handovers_to_follow_up",
    "load_routes",
    "shown_deliveries",
]
