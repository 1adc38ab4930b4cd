"""The offline base map's build step (scripts/basemap.py): Natural Earth's admin-1 layer cut down to
Kyrgyzstan's regions and the outlines of its neighbours, each named in the portal's languages."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from shapely.geometry import Point, box, mapping, shape

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "basemap.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("basemap", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def province(country: str, code: str, name: str, name_ru: str, west: float, south: float) -> dict[str, Any]:
    """A one-degree square province as Natural Earth's admin-1 layer gives it."""
    return {"type": "Feature", "geometry": mapping(box(west, south, west + 1, south + 1)), "properties": {
        "adm0_a3": country, "iso_3166_2": code, "name": name, "name_en": name, "name_ru": name_ru}}


def test_regions_are_kept_and_neighbours_dissolved_into_countries(tmp_path: Path) -> None:
    source, target = tmp_path / "admin1.json", tmp_path / "out" / "kyrgyzstan.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": [
        province("KGZ", "KG-N", "Naryn", "Нарынская область", 75.0, 41.0),
        province("KGZ", "KG-O", "Osh", "Ош", 73.0, 40.0),
        province("KAZ", "KZ-ZHA", "Zhambyl", "Жамбылская область", 73.0, 43.0),
        province("KAZ", "KZ-ALM", "Almaty", "Алматинская область", 74.0, 43.0),
        province("FRA", "FR-IDF", "Île-de-France", "Иль-де-Франс", 2.0, 48.0),
    ]}), encoding="utf-8")
    assert load_script().main([str(source), str(target)]) == 0
    features = json.loads(target.read_text(encoding="utf-8"))["features"]
    by_code = {f["properties"]["code"]: f for f in features}
    assert sorted(by_code) == ["KAZ", "KG-N", "KG-O", "KGZ"]                 # France is not near
    assert by_code["KAZ"]["properties"] | {"label": None} == {
        "layer": "country", "code": "KAZ", "name": "Kazakhstan", "name_ru": "Казахстан", "name_ky": "Казакстан",
        "label": None}
    assert shape(by_code["KAZ"]["geometry"]).area == 2.0                       # its two provinces, one outline
    osh = by_code["KG-O"]["properties"]
    assert (osh["layer"], osh["name_ru"], osh["name_ky"]) == ("region", "Ошская область", "Ош облусу")
    for feature in features:
        assert shape(feature["geometry"]).contains(Point(feature["properties"]["label"]))
