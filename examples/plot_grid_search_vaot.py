"""
==========================================================
Tuning VAOT's rho, zeta and alpha with GridSearchCV
==========================================================

:class:`skalign.VideoAligner` is a scikit-learn estimator, so its
hyper-parameters are tuned with the ordinary tools. Here ``GridSearchCV``
searches the three knobs of VAOT that shape the pseudo-labels:

- ``rho``, the weight of the temporal prior that keeps matches near the
  diagonal;
- ``zeta``, the cost of the virtual frame that takes background and
  redundant frames;
- ``alpha``, the weight of the structural (Gromov-Wasserstein) term.

Every candidate is fitted on the training folds without labels and scored
on the held-out fold by Kendall's tau of its embeddings
(:data:`skalign.metrics.kendalls_tau_scorer`), so no label is needed
anywhere. The videos are small and the training short, so that the search
runs in seconds on a CPU; on real data, train longer.
"""

# %%
# Synthetic videos of one process
# -------------------------------
# :func:`skalign.datasets.make_process_videos` draws videos of one process
# with 4 phases of random lengths, some background frames and noise.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from skalign import VideoAligner
from skalign.datasets import make_process_videos
from skalign.metrics import kendalls_tau, kendalls_tau_scorer
from skalign.plotting import annotate_heatmap

videos, labels = make_process_videos(
    9, 4, n_frames=(40, 60), n_features=16, background=0.1, random_state=0
)
print(f"{len(videos)} videos, {sum(len(v) for v in videos)} frames, 16 features a frame")

# %%
# The search
# ----------
# Eight candidates, two folds: 16 short fits. ``random_state`` fixes the
# encoder's start and the frame sampling, so candidates differ only by
# their parameters.

base = VideoAligner(
    method="vaot", embedding_dim=16, max_epochs=3, n_frames=16, batch_size=4,
    device="cpu", random_state=0,
)
grid = {"rho": [0.0, 0.35], "zeta": [0.3, 0.7], "alpha": [0.0, 0.3]}
search = GridSearchCV(base, grid, scoring=kendalls_tau_scorer, cv=KFold(2), refit=True)
start = time.perf_counter()
search.fit(videos)
print(f"searched {len(search.cv_results_['params'])} candidates in "
      f"{time.perf_counter() - start:.1f} s")
print("best_params_:", search.best_params_)
print(f"best_score_ (mean Kendall's tau over the held-out folds): {search.best_score_:.3f}")

# %%
# The table of results
# --------------------
# ``cv_results_`` holds, per candidate, the score of each fold, their mean
# and standard deviation, and the rank.

res = search.cv_results_
print(f"{'rho':>5} {'zeta':>5} {'alpha':>6} {'mean tau':>9} {'std':>6} {'rank':>5}")
for k in np.argsort(res["rank_test_score"]):
    p = res["params"][k]
    print(f"{p['rho']:5.2f} {p['zeta']:5.2f} {p['alpha']:6.2f} "
          f"{res['mean_test_score'][k]:9.3f} {res['std_test_score'][k]:6.3f} "
          f"{res['rank_test_score'][k]:5d}")

# %%
# The refitted best model against the raw features:

print(f"Kendall's tau of the raw features:      {kendalls_tau(videos):.3f}")
print(f"Kendall's tau of the best model's embeddings: "
      f"{kendalls_tau(search.best_estimator_.transform(videos)):.3f}")

# %%
# Mean held-out score of every candidate, by ``rho`` and ``zeta``, one
# panel per ``alpha``. :func:`skalign.plotting.annotate_heatmap` writes
# each score in black on light cells and in white on dark ones, so that
# the numbers stay readable on the bright yellow of the best scores:

fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained", sharey=True)
scores = res["mean_test_score"]
vmin, vmax = scores.min(), scores.max()
for ax, alpha in zip(axes, grid["alpha"]):
    table = np.array([
        [next(scores[k] for k, p in enumerate(res["params"])
              if p["alpha"] == alpha and p["rho"] == rho and p["zeta"] == zeta)
         for zeta in grid["zeta"]]
        for rho in grid["rho"]
    ])
    im = ax.imshow(table, vmin=vmin, vmax=vmax, cmap="viridis")
    annotate_heatmap(im, fmt="{:.3f}")
    ax.set_xticks(range(len(grid["zeta"])), [str(z) for z in grid["zeta"]])
    ax.set_yticks(range(len(grid["rho"])), [str(r) for r in grid["rho"]])
    ax.set_xlabel("zeta")
    ax.set_title(f"alpha = {alpha}")
axes[0].set_ylabel("rho")
fig.colorbar(im, ax=axes, label="mean Kendall's tau")
