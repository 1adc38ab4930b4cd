"""A simulated beacon: drives a route with GPS noise, stops, tunnel gaps and injected deviations."""
from beacon_gateway.simulator.drive import Deviation, Pause, Simulation

__all__ = ["Deviation", "Pause", "Simulation"]
