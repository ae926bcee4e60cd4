"""The CMMS simulator used by the demo, the end-to-end tests and the benchmarks."""

from cmms.simulator.server import DEFAULT_DATA_PATH, CmmsSimulator, FaultRule, load_data

__all__ = ["DEFAULT_DATA_PATH", "CmmsSimulator", "FaultRule", "load_data"]
