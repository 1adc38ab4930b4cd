"""One decoder per beacon protocol; each turns raw bytes into ``beacon_gateway.position.Position``.

Modules: ``json_batch`` (native JSON), ``osmand`` (OsmAnd / Traccar Client), ``nmea`` (NMEA 0183
lines), ``teltonika`` (Codec 8 / 8 Extended), ``gt06`` (Concox GT06) and ``gpx`` (uploaded logs).
None of them opens a socket: the servers feed them bytes and send back what they return. The
protocol registry (``beacon_gateway.protocols``) says which decoder, framing and answer each
protocol uses; ``capture`` reads whole logs of any of them.
"""
