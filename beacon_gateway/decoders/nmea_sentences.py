"""What each position-bearing NMEA sentence says, as values for ``nmea`` to merge into an epoch.

Each reader takes a pynmea2 sentence and returns a dict: ``tod`` (time of day), ``lat``,
``lon``, ``valid`` (the sentence's own validity indication, absent when it has none),
``day``, ``speed_kmh``, ``course``, ``altitude_m``, ``satellites``, ``hdop``, other keys for
``extra``, and ``_warning`` for a damaged field that did not void the sentence.
"""
from __future__ import annotations

from typing import Callable

import pynmea2

from beacon_gateway.decoders import nmea_fields as nf
from beacon_gateway.position import DecodeError


def _field(message: pynmea2.NMEASentence, name: str) -> str:
    """The raw text of a named field ('' when the sentence is shorter)."""
    index = message.name_to_idx.get(name)
    return message.data[index].strip() if index is not None and index < len(message.data) else ""


def _position_fields(message: pynmea2.NMEASentence) -> dict:
    """Time of day and coordinates, common to RMC, GGA, GLL and GNS."""
    return {
        "tod": nf.time_of_day(_field(message, "timestamp")),
        "lat": nf.coordinate(_field(message, "lat"), _field(message, "lat_dir"), True),
        "lon": nf.coordinate(_field(message, "lon"), _field(message, "lon_dir"), False),
    }


def _validity(valid: bool) -> dict:
    """A sentence's own fix-validity indication (an epoch is valid when none says otherwise)."""
    return {"valid": valid}


def _rmc(message: pynmea2.NMEASentence) -> dict:
    """RMC: time, status, position, speed (knots), course, date."""
    speed = nf.optional_number(_field(message, "spd_over_grnd"), "speed")
    valid = _field(message, "status") == "A" and _field(message, "mode_indicator") != "N"
    values = {**_position_fields(message), **_validity(valid),
              "speed_kmh": None if speed is None else abs(speed) * nf.KNOTS_TO_KMH,
              "course": _course(_field(message, "true_course"))}
    try:
        values["day"] = nf.rmc_date(_field(message, "datestamp"))
    except DecodeError as error:    # as gpsd: a garbled date does not void the position
        values["_warning"] = str(error)
    return values


def _gga(message: pynmea2.NMEASentence) -> dict:
    """GGA: time, position, fix quality, satellites, HDOP, altitude above mean sea level."""
    quality = _field(message, "gps_qual")
    satellites = nf.optional_number(_field(message, "num_sats"), "satellites")
    return {**_position_fields(message), **_validity(quality not in ("", "0", "7", "8")),
            "satellites": None if satellites is None else int(satellites),
            "hdop": nf.optional_number(_field(message, "horizontal_dil"), "HDOP"),
            "altitude_m": nf.optional_number(_field(message, "altitude"), "altitude"),
            "fix_quality": int(quality) if quality.isdigit() else None}


def _gll(message: pynmea2.NMEASentence) -> dict:
    """GLL: position, time (absent in NMEA 1.5), status."""
    values = _position_fields(message)
    status = _field(message, "status")
    if status:
        values.update(_validity(status == "A" and _field(message, "faa_mode") != "N"))
    return values


def _gns(message: pynmea2.NMEASentence) -> dict:
    """GNS: time, position, per-constellation mode, satellites, HDOP, altitude."""
    modes = _field(message, "mode_indicator")
    satellites = nf.optional_number(_field(message, "num_sats"), "satellites")
    return {**_position_fields(message), **_validity(bool(modes.strip("N"))),
            "satellites": None if satellites is None else int(satellites),
            "hdop": nf.optional_number(_field(message, "hdop"), "HDOP"),
            "altitude_m": nf.optional_number(_field(message, "altitude"), "altitude")}


def _vtg(message: pynmea2.NMEASentence) -> dict:
    """VTG: course over ground and speed (km/h, else knots)."""
    kmh = nf.optional_number(_field(message, "spd_over_grnd_kmph"), "speed")
    knots = nf.optional_number(_field(message, "spd_over_grnd_kts"), "speed")
    speed = kmh if kmh is not None else (None if knots is None else knots * nf.KNOTS_TO_KMH)
    values = {"speed_kmh": None if speed is None else abs(speed),
              "course": _course(_field(message, "true_track"))}
    if _field(message, "faa_mode") == "N":
        values.update(_validity(False))
    return values


def _zda(message: pynmea2.NMEASentence) -> dict:
    """ZDA: time and full date."""
    return {"tod": nf.time_of_day(_field(message, "timestamp")),
            "day": nf.zda_date(_field(message, "day"), _field(message, "month"), _field(message, "year"))}


def _course(value: str) -> float | None:
    """Course over ground in degrees, normalised to 0..360."""
    number = nf.optional_number(value, "course")
    return None if number is None else number % 360


#: Fields of a complete sentence of each type (NMEA 2.0): a sentence without a checksum
#: must have them all, or it is taken as cut off.
FIELD_COUNTS = {"RMC": 11, "GGA": 14, "GLL": 6, "VTG": 8, "GNS": 12, "ZDA": 6}

READERS: dict[str, Callable[[pynmea2.NMEASentence], dict]] = {
    "RMC": _rmc, "GGA": _gga, "GLL": _gll, "GNS": _gns, "VTG": _vtg, "ZDA": _zda,
}
