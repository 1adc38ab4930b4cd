"""GPS pings in, route deviations out (built in issue #4).

The gateway writes to the tracker's database through ``tracker.models`` and
``tracker.domain``; it never imports the tracker's Flask app.
"""
