"""Optimisation: Optuna studies over a strategy's declared parameters, validated walk-forward, trials as Celery tasks.

- ``space``: the declared parameters (or a run's own ranges) as Optuna distributions;
- ``objectives``: which backtest metric a trial is scored by, and in which direction;
- ``folds``: the train/test windows of a walk-forward (pure);
- ``study``: Optuna's RDB storage in the project's database, the studies of a run;
- ``trials``: one trial (ask, backtest every symbol on the fold's train window, tell);
- ``slots``: which trials are queued, running (and on which worker) and done, so a crash loses or doubles none;
- ``tasks``: the Celery tasks; ``walkforward``: a fold's chosen parameters scored on its unseen test window;
- ``report``: in-sample against out-of-sample, parameter stability, the overfitting warning;
- ``commands``: launch, resume, apply (the command layer); ``api``, the CLI and the pages are front ends.
"""
