"""The benchmark (`make bench`, `python -m bench`): the engine against the TensorFlow tutorial's
code, and the service's costs.

Figures, one module each: step speed (step_speed.py, against reference.py), time to quality
(quality.py, judged by objective.py), the arithmetic floor (flops.py), cold start (cold_start.py),
streaming overhead (streaming.py) and memory (memory.py), the last three on a real `nst serve`
(live_service.py). report.py prints the table and writes docs/benchmarks.md; runner.py runs it
all.
"""
