"""Domain rules of mercury tracking: plain Python and SQLAlchemy, never Flask."""
