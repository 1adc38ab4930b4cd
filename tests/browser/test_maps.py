"""The portal's maps in a real browser: the offline base map (countries, Kyrgyzstan's regions, named
checkpoints) without MAP_TILE_URL, the tile server's tiles with it, Leaflet's controls in the page's
language, and a click on a checkpoint while drawing a route adding its exact place as a waypoint."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from tests.browser.conftest import DESKTOP, PHONE, DemoPortal, Screenshots, Tabs, serving_demo
from tracker.models import Declaration, DeclarationStatus as Status

pytestmark = pytest.mark.browser

#: A 1×1 transparent PNG: what the stand-in tile server answers.
TILE = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
TILE_HOST = "https://tiles.example.kg"
WORDS = {"en": {"zoom_in": "Zoom in", "region": "Naryn", "country": "Kazakhstan", "km": " km"},
         "ru": {"zoom_in": "Приблизить", "region": "Нарынская область", "country": "Казахстан", "km": " км"},
         "ky": {"zoom_in": "Чоңойтуу", "region": "Нарын облусу", "country": "Казакстан", "km": " км"}}


def draft_of(portal: DemoPortal) -> Declaration:
    """Return the demo's draft (Khaidarkan's, with no route yet)."""
    with portal.sessions() as session:
        return session.scalars(select(Declaration).where(Declaration.status == Status.DRAFT)).one()


def in_transit(portal: DemoPortal) -> tuple[int, list[str]]:
    """Return the demo truck's declaration (in transit) and its checkpoints' codes."""
    with portal.sessions() as session:
        record = session.scalars(select(Declaration).where(Declaration.status == Status.IN_TRANSIT)
                                 .order_by(Declaration.id)).first()
        assert record is not None
        return record.id, [place.checkpoint.code for place in record.route_places]


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_without_tiles_the_map_shows_borders_regions_and_named_checkpoints(
        visit: Tabs, shots: Screenshots, language: str, size: dict[str, int]) -> None:
    shots.know_data_of(visit.portal)
    tab = visit("auditor", size=size, language=language)
    declaration_id, codes = in_transit(visit.portal)
    tab.go(f"/declarations/{declaration_id}")
    page = tab.page
    page.wait_for_selector("#declaration-map[data-map-ready='true']")
    area = page.locator("#declaration-map")
    assert area.get_attribute("data-basemap") == "offline"
    assert area.get_attribute("data-basemap-regions") == "8"
    assert area.locator(".leaflet-basemap-pane canvas").count() == 1
    words = WORDS[language]
    assert area.locator(".basemap-region", has_text=words["region"]).count() == 1
    assert area.locator(".basemap-country", has_text=words["country"]).count() == 1
    for code in codes:                                                      # the checkpoints, named
        assert area.locator(".map-name", has_text=code).count() == 1
    assert area.locator(".leaflet-control-zoom-in").get_attribute("title") == words["zoom_in"]
    assert words["km"] in area.locator(".leaflet-control-scale-line").inner_text()
    assert "Natural Earth" in area.locator(".leaflet-control-attribution").inner_text()
    shots(page, f"offline-base-map-{language}")
    assert tab.overflow() == []
    tab.watch.assert_clean()


@pytest.fixture(scope="module")
def tiled_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPortal]:
    """A demo portal configured with a tile server (MAP_TILE_URL)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAP_TILE_URL", TILE_HOST + "/{z}/{x}/{y}.png")
        patch.setenv("MAP_TILE_ATTRIBUTION", "© Tiles of the test")
        with serving_demo(Path(tmp_path_factory.mktemp("tiled"))) as served:
            yield served


def test_with_a_tile_server_the_map_uses_its_tiles(visit_portal, tiled_portal: DemoPortal) -> None:  # type: ignore[no-untyped-def]
    tab = visit_portal(tiled_portal)("auditor")
    asked: list[str] = []

    def serve_tile(route):  # type: ignore[no-untyped-def]
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=TILE)

    tab.page.route(TILE_HOST + "/**", serve_tile)
    tab.go(f"/declarations/{in_transit(tiled_portal)[0]}")
    tab.page.wait_for_selector("#declaration-map[data-map-ready='true']")
    area = tab.page.locator("#declaration-map")
    assert area.get_attribute("data-basemap") == "tiles"
    assert area.locator("img.leaflet-tile").count() > 0
    assert asked and all(url.endswith(".png") for url in asked)
    assert area.locator(".basemap-region").count() == 0
    assert "Tiles of the test" in area.locator(".leaflet-control-attribution").inner_text()
    tab.watch.assert_clean()


@pytest.mark.parametrize("language", ["en", "ru", "ky"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_clicking_a_checkpoint_while_drawing_adds_its_exact_place(
        visit: Tabs, shots: Screenshots, language: str, size: dict[str, int]) -> None:
    draft = draft_of(visit.portal)
    with visit.portal.sessions() as session:
        places = [(p.checkpoint.code, p.checkpoint.lat, p.checkpoint.lon)
                  for p in session.get(Declaration, draft.id).route_places]
    tab = visit("trader.khaidarkan", size=size, language=language)
    tab.go(f"/declarations/{draft.id}/edit?step=route")
    page = tab.page
    page.wait_for_selector("#route-map[data-map-ready='true']")
    page.locator("#waypoints").fill("")
    markers = page.locator("#route-map .marker-checkpoint")       # drawn in the route's order
    assert markers.count() == len(places)
    markers.first.click()
    markers.last.click()
    lines = [line for line in page.locator("#waypoints").input_value().splitlines() if line]
    expected = [f"{lat:.6f}, {lon:.6f}" for _code, lat, lon in (places[0], places[-1])]
    assert lines == expected
    assert page.locator("#route-map .leaflet-popup").count() == 0            # no popup instead
    assert page.locator("#route-map .marker-pick").count() == 2
    shots(page, f"route-from-checkpoints-{language}")
    tab.watch.assert_clean()
