"""The sweep: the transfer grid searched with Ray Tune + Optuna.

- :mod:`raygrid.sweep.plan`: what runs next (Optuna studies per cell; no Ray);
- :mod:`raygrid.sweep.work`: what one unit does on a worker (no Ray);
- :mod:`raygrid.sweep.ray_backend`: the only module that touches Ray Tune
  and Ray Train;
- :mod:`raygrid.sweep.cluster`: Ray core for the supervisor (start or join,
  check resources);
- :mod:`raygrid.sweep.segments`: the Tune experiment run in segments, one
  driver process each, under the supervisor;
- :mod:`raygrid.sweep.driver`: start, resume, and `sweep_status` (progress
  from the sweep folder alone).
- :mod:`raygrid.sweep.lease`: one writer per sweep folder (the lease that
  `run` and `resume` hold; readers never touch it).
"""
