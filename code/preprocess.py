"Entry point of the PreprocessData job: `python preprocess.py [options]` in the unpacked code folder (workbook.preprocessing)."
from workbook.preprocessing import main
if __name__ == "__main__": main()
