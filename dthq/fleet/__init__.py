"""Device fleets on Locust's distributed engine (layer 5c, above the pipeline).

``config.py`` (what a fleet run is: scenario, size, rate, workers, broker), ``devices.py``
(the Locust user classes: one per device kind, and the HELLO replayer), ``locustfile.py``
(what ``locust -f`` loads: those classes and the master's twin), ``twin.py`` (the cloud
twin inside the Locust master, reporting end-to-end delivery as Locust events),
``service.py`` (the gateway process), ``run.py`` (``dthq fleet``: starts them
all, collects one :class:`~dthq.harness.results.FleetRun`), ``capacity.py`` (the sweep and
its knee) and ``model.py`` (the MODELLED region past this machine).
"""
