"""How far a weighed or received mass may differ from the declared one."""
from __future__ import annotations

DEFAULT_PERMILLE = 1      # 0.1 %
DEFAULT_MIN_G = 50


def mass_tolerance_g(declared_g: int, permille: int = DEFAULT_PERMILLE, min_g: int = DEFAULT_MIN_G) -> int:
    """Return the allowed difference: ``permille`` of the declared mass or ``min_g``, whichever is larger."""
    return max(declared_g * permille // 1000, min_g)


def mass_discrepancy_g(declared_g: int, measured_g: int, permille: int = DEFAULT_PERMILLE,
                       min_g: int = DEFAULT_MIN_G) -> int | None:
    """Return measured − declared when it is beyond tolerance (negative: shortage), else None."""
    difference = measured_g - declared_g
    return difference if abs(difference) > mass_tolerance_g(declared_g, permille, min_g) else None
