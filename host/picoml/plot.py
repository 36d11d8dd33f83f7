"""`picoml plot DATASET`: every recording of a dataset folder drawn to one PNG (physical units when the dataset
records its scale)."""
import pathlib

import numpy as np

from .argtypes import positive_float
from .paths import check_output_file
from .train import load_datasets

MAX_ROWS = 40


def plot_dataset(folder, out=None, seconds=None):
    """Draw each recording (one row, its channels overlaid) and write the PNG; returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    recordings = load_datasets([folder])
    shown = recordings[:MAX_ROWS]
    out = pathlib.Path(out) if out else pathlib.Path(folder) / "plot.png"
    check_output_file(out, "the plot (-o)")
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 1.8 * len(shown)), squeeze=False)
    for ax, r in zip(axes[:, 0], shown):
        x = r.samples.astype(np.float64) * np.asarray(r.scale)
        if seconds:
            x = x[:int(seconds * r.rate)]
        t = np.arange(len(x)) / r.rate
        names = ("ax", "ay", "az", "gx", "gy", "gz") if x.shape[1] == 6 else ["ch%d" % c for c in range(x.shape[1])]
        for c in range(x.shape[1]):
            ax.plot(t, x[:, c], linewidth=0.7, label="%s (%s)" % (names[c], r.units[c]))
        ax.set_title("%s  %s  (%s)" % (r.label, pathlib.Path(r.file).name, r.group), fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=6, ncol=6, loc="upper right")
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out, len(recordings) - len(shown)


def cmd_plot(args):
    path, left_out = plot_dataset(args.dataset, args.output, args.seconds)
    print("wrote %s%s" % (path, " (the first %d recordings; %d more not drawn)" % (MAX_ROWS, left_out)
                           if left_out else ""))
    return 0


def add_commands(subparsers):
    p = subparsers.add_parser("plot", help="draw a dataset's recordings into a PNG")
    p.add_argument("dataset", help="a dataset folder (index.json + .npz)")
    p.add_argument("-o", "--output", help="the PNG to write (default DATASET/plot.png)")
    p.add_argument("--seconds", type=positive_float, help="draw only the first seconds of each recording")
    p.set_defaults(func=cmd_plot)
