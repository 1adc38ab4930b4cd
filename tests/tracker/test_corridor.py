"""The corridor: geodesic distances to the demo route, and fast containment that agrees with them."""
from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString

from tracker.domain.corridor import GEOD, Corridor, densify
from tracker.domain import geography as geo

ROUTE = geo.route_line(geo.KHAIDARKAN_AKJOL)


@pytest.fixture(scope="module")
def corridor() -> Corridor:
    return Corridor(ROUTE, 500)


def points_near_route(seed: int, n: int, max_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Random points up to ``max_m`` from random places on the route, in random directions."""
    rng = np.random.default_rng(seed)
    dense = densify(ROUTE, 100)
    pick = rng.integers(0, len(dense), n)
    lon, lat, _ = GEOD.fwd(dense[pick, 0], dense[pick, 1], rng.uniform(0, 360, n), rng.uniform(0, max_m, n))
    return np.asarray(lon), np.asarray(lat)


def brute_force_distance(lon: float, lat: float) -> float:
    """Distance to the route by sampling its geodesics every 0.5 m near the closest part."""
    coarse = densify(ROUTE, 200)
    d = GEOD.inv(np.full(len(coarse), lon), np.full(len(coarse), lat), coarse[:, 0], coarse[:, 1])[2]
    k = int(np.argmin(d))
    near = densify(LineString(coarse[max(0, k - 2):k + 3]), 0.5)
    return float(np.min(GEOD.inv(np.full(len(near), lon), np.full(len(near), lat), near[:, 0], near[:, 1])[2]))


@pytest.mark.parametrize("seed", [1, 2])
def test_distances_agree_with_geodesic_distance_within_a_metre_up_to_5_km(corridor: Corridor, seed: int) -> None:
    lon, lat = points_near_route(seed, 40, 5_000)
    got = corridor.distances_m(lon, lat)
    expected = np.array([brute_force_distance(a, b) for a, b in zip(lon, lat)])
    assert np.max(np.abs(got - expected)) < 1.0
    assert expected.max() > 3_000          # the sample does reach far from the route


def test_containment_agrees_with_distance_to_the_route(corridor: Corridor) -> None:
    lon, lat = points_near_route(3, 2_000, 1_500)
    distance = corridor.distances_m(lon, lat)
    clear = np.abs(distance - 500) > 1.0       # the buffer's polygon edge is within a metre of exact
    assert np.array_equal(corridor.contains(lon, lat)[clear], (distance <= 500)[clear])
    assert 0.2 < np.mean(distance <= 500) < 0.8      # both sides of the edge are well sampled


def test_classify_gives_exact_distances_only_where_they_matter(corridor: Corridor) -> None:
    lon, lat = points_near_route(4, 500, 2_000)
    well_inside, distance = corridor.classify(lon, lat)
    exact = corridor.distances_m(lon, lat)
    assert np.all(exact[well_inside] <= 500 - 50 + 1)
    assert np.allclose(distance[~well_inside], exact[~well_inside])


def test_a_point_across_a_long_straight_leg_is_its_perpendicular_distance_away() -> None:
    line = LineString([(74.0, 42.0), (74.0, 42.5)])        # a meridian: the geodesic is the line itself
    lon, lat, _ = GEOD.fwd(74.0, 42.25, 90.0, 2_500.0)
    assert Corridor(line, 300).distances_m([lon], [lat])[0] == pytest.approx(2_500.0, abs=0.5)


def test_a_corridor_needs_a_positive_width() -> None:
    with pytest.raises(ValueError, match="positive"):
        Corridor(ROUTE, 0)
