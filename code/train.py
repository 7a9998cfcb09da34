"Entry point of the training jobs (TrainModel, TuneModel's trials): `python train.py --epochs N ...` (workbook.training)."
from workbook.training import main
if __name__ == "__main__": main()
