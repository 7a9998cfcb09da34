"Entry point of the monitoring jobs (BaselineData): `python monitor.py baseline|analyze [options]` (workbook.monitoring.job)."
from workbook.monitoring.job import main
if __name__ == "__main__": main()
