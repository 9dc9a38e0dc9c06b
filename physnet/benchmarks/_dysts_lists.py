"""Named lists of dysts flows."""

KAPTANOGLU_SYSTEMS = tuple(
    sorted(
        """
Aizawa Bouali2 GenesioTesi HyperBao HyperCai HyperJha HyperLorenz HyperLu HyperPang Laser
Lorenz LorenzBounded MooreSpiegel Rossler ShimizuMorioka HenonHeiles GuckenheimerHolmes
Halvorsen KawczynskiStrizhak VallisElNino RabinovichFabrikant NoseHoover Dadras RikitakeDynamo
NuclearQuadrupole PehlivanWei SprottTorus SprottJerk SprottA SprottB SprottC SprottD SprottE
SprottF SprottG SprottH SprottI SprottJ SprottK SprottL SprottM SprottN SprottO SprottP SprottQ
SprottR SprottS Rucklidge Sakarya RayleighBenard Finance LuChenCheng LuChen QiChen ZhouChen
BurkeShaw Chen ChenLee WangSun DequanLi NewtonLiepnik HyperRossler HyperQi Qi LorenzStenflo
HyperYangChen HyperYan HyperXu HyperWang Hadley
""".split()
    )
)
"""The 70 polynomial flows of Kaptanoglu et al. (2023), sorted.

From "Benchmarking sparse system identification with low-dimensional chaos", Nonlinear
Dynamics 111: the list of their code's run_all.py (PySINDy's benchmark_paper branch,
examples/16_noise_robustness)."""

DEFAULT_SUBSET = ("Lorenz", "Rossler", "SprottB", "HyperLorenz", "HenonHeiles")
"""The default subset of ``physnet reproduce --experiments dysts``: 3-D and 4-D flows."""
