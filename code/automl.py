"Entry point of the PrepareAutoMLData jobs: `python automl.py [options]` in the unpacked code folder (workbook.automl)."
from workbook.automl import main
if __name__ == "__main__": main()
