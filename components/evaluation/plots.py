"""Plots people would rather look at than tables: metric curves and a t-SNE of features."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def line_plot(series: dict[str, tuple[list[float], list[float]]], xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    """One line per name: {name: (xs, ys)}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    return _save(fig, ax, path)


def tsne_plot(groups: dict[str, np.ndarray], path: Path, seed: int = 0, perplexity: float = 20.0) -> Path:
    """t-SNE of feature vectors, one colour per group (Li et al.: 50 points per group, perplexity 20)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    names = list(groups)
    stacked = np.concatenate([groups[n] for n in names])
    embedded = TSNE(n_components=2, perplexity=min(perplexity, len(stacked) - 1), random_state=seed, init="pca").fit_transform(
        stacked
    )
    fig, ax = plt.subplots(figsize=(5, 5))
    start = 0
    for name in names:
        end = start + len(groups[name])
        ax.scatter(embedded[start:end, 0], embedded[start:end, 1], s=12, label=name, alpha=0.8)
        start = end
    ax.set(title="t-SNE of feature-net embeddings", xticks=[], yticks=[])
    return _save(fig, ax, path)


def _save(fig, ax, path: Path) -> Path:
    import matplotlib.pyplot as plt

    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
