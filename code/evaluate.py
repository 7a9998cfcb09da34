"Entry point of the EvaluateModel jobs: `python evaluate.py [options]` in the unpacked code folder (workbook.evaluation)."
from workbook.evaluation import main
if __name__ == "__main__": main()
