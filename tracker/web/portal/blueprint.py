"""The portal's one blueprint; each page module adds its views to it."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__)
