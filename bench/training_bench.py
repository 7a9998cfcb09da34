"""Training benchmark: the training step's loop (one compiled TensorFlow function per epoch) against Keras' `model.fit`.

    python bench/training_bench.py            # or: make bench

Both train the step's network with its default hyperparameters (Adam, early stopping on the validation loss, best
weights restored) on the real preprocessing output, for 5 seeds, in the TensorFlow training image's environment (the
one the TrainModel job runs in). The baseline is the straightforward code: `model.fit` with an `EarlyStopping`
callback and a callback printing the epoch line. Reported: seconds and test accuracy per seed and recipe, and the
median speed-up. Target: every seed at least 0.97 test accuracy with the step's loop. Writes bench/results/training.json.
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "training.json"
SEEDS = (0, 1, 2, 3, 4)
ACCURACY_BAR = 0.97


def _fit_with_keras(X_train, y_train, X_val, y_val, n_classes, hp, stream):
    "The baseline: Keras' own training loop with early stopping, as one writes it first."
    import keras
    from workbook.training import build_model, configure_tensorflow, metrics_printer
    configure_tensorflow(hp.seed)
    model = build_model(X_train.shape[1], n_classes, hp)
    printer = metrics_printer(stream)
    callbacks = [keras.callbacks.LambdaCallback(on_epoch_end=printer)]
    if hp.patience: callbacks.insert(0, keras.callbacks.EarlyStopping(monitor="val_loss", patience=hp.patience, restore_best_weights=True))
    history = model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=hp.epochs, batch_size=hp.batch_size,
                        shuffle=True, verbose=0, callbacks=callbacks)
    return model, history.history


def _measure(data: Path) -> dict:
    "In the image's environment: both loops, seed by seed (alternating, so machine load hits both alike)."
    from dataclasses import replace
    from workbook.training import Hyperparameters, fit_model, read_channel, read_classes, split_accuracy
    X_train, y_train = read_channel(data / "train"); X_val, y_val = read_channel(data / "validation")
    n_classes = len(read_classes(data / "transformer"))
    runs = {"baseline": [], "ours": []}
    for seed in SEEDS:
        hp = replace(Hyperparameters(), seed=seed)
        for name, fit in (("baseline", _fit_with_keras), ("ours", fit_model)):
            start = time.perf_counter()
            model, history = fit(X_train, y_train, X_val, y_val, n_classes, hp, stream=io.StringIO())
            seconds = time.perf_counter() - start
            runs[name].append({"seed": seed, "seconds": round(seconds, 3), "epochs": len(history["loss"]),
                               "test_accuracy": round(split_accuracy(model, data / "test"), 4)})
    return runs


def _environment_python() -> Path:
    "The Python of the TensorFlow training image's environment, with the shipped requirements (built on first use)."
    sys.path.insert(0, str(ROOT / "code"))
    from workbook.config import TENSORFLOW_VERSION
    from workbook.local.images import build_environment, named_environment
    env = named_environment(f"tensorflow-training-{TENSORFLOW_VERSION}")
    return build_environment(env, (ROOT / "code" / "requirements.txt").read_text())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--measure", help=argparse.SUPPRESS)  # run inside the image's environment on this data folder
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(_measure(Path(args.measure))))
        return 0
    python = _environment_python()
    from workbook.config import DATA_FILE
    from workbook.preprocessing import preprocess
    with tempfile.TemporaryDirectory() as tmp:
        preprocess(DATA_FILE, Path(tmp))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([str(python), __file__, "--measure", tmp], env=env, capture_output=True, text=True)
    if done.returncode: sys.exit(f"measuring failed ({done.returncode}):\n{done.stderr[-3000:]}")
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    median = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    result = {"image_environment": python.parent.parent.name, "seeds": list(SEEDS), "runs": runs,
              "median_seconds": median, "speedup_median": round(median["baseline"] / median["ours"], 2),
              "accuracy_bar": ACCURACY_BAR,
              "met": {"ours_accuracy_every_seed": all(r["test_accuracy"] >= ACCURACY_BAR for r in runs["ours"])},
              "machine": {"cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"{'seed':>4} {'baseline s':>11} {'ours s':>8} {'baseline acc':>13} {'ours acc':>9} {'epochs b/o':>11}")
    for b, o in zip(runs["baseline"], runs["ours"]):
        print(f"{b['seed']:>4} {b['seconds']:>11.2f} {o['seconds']:>8.2f} {b['test_accuracy']:>13.4f} {o['test_accuracy']:>9.4f} "
              f"{b['epochs']:>5}/{o['epochs']:<5}")
    print(f"median: baseline {median['baseline']:.2f} s, ours {median['ours']:.2f} s: {result['speedup_median']}x; "
          f"ours >= {ACCURACY_BAR} on every seed: {'yes' if result['met']['ours_accuracy_every_seed'] else 'NO'}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
