"""The sweep: the transfer grid searched with Ray Tune + Optuna.

- :mod:`raygrid.sweep.plan`: what runs next (Optuna studies per cell; no Ray);
- :mod:`raygrid.sweep.work`: what one unit does on a worker (no Ray);
- :mod:`raygrid.sweep.ray_backend`: the only module that touches Ray Tune
  and Ray Train;
- :mod:`raygrid.sweep.status`: progress from the sweep folder alone.
"""
