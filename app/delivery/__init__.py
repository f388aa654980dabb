"""Delivering the discharge handover to the GP practice and the community teams (issue 16), and knowing it arrived."""

from .models import Delivery

__all__ = ["Delivery"]
