"""Levenberg-Marquardt for residual losses, and the states-only recipe built on it.

The weak-form loss of a model linear in its parameters is quadratic, and latent-start
shooting is a nonlinear least-squares problem whose unknowns split into the model's
parameters θ (shared) and one starting state z_k per window (local to window k). Both are
solved here by Levenberg-Marquardt: a few Gauss-Newton steps converge where first-order
optimisers crawl on the ill-conditioned monomial features; for the latent starts the normal
equations are reduced by the Schur complement of the block-diagonal z part (variable
projection in its linearised form), so a step costs one forward-mode Jacobian of each window
in (θ, z_k) and one P×P solve, P the number of model parameters.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array
from jax.flatten_util import ravel_pytree

from .._checks import integer, number
from .._errors import ConfigError, TrainingDivergedError
from ..data import Trajectories
from ._inputs import check_fit_inputs
from ._latent_loss import LatentShootingLoss
from ._program import bind_static
from ._weak_loss import WeakFormLoss


def _marquardt(diag: Array, lam) -> Array:
    """The Marquardt damping λ·diag(JᵀJ) (scale invariant), floored for zero columns."""
    return lam * jnp.maximum(diag, 1e-12 * jnp.max(diag) + 1e-300)


def _lm_loop(cost_fn, step_fn, x0, steps: int, lam0: float, rtol: float = 1e-10):
    """At most ``steps`` Levenberg-Marquardt iterations: ``step_fn(x, lam) -> x_trial``; a
    trial that lowers ``cost_fn`` is taken and λ divided by 3, otherwise λ is multiplied by
    10. Stops early once an accepted step lowers the cost by less than ``rtol`` relative, or
    λ reaches 1e12 (no step can lower it). Returns ``(x, costs (steps + 1,))``, the costs
    after the stop repeating the last one."""

    def cond(carry):
        i, _, _, _, done, _ = carry
        return (i < steps) & ~done

    def body(carry):
        i, x, cost, lam, _, costs = carry
        trial = step_fn(x, lam)
        new = cost_fn(trial)
        better = jnp.isfinite(new) & (new <= cost)
        x = jax.tree.map(lambda a, b: jnp.where(better, a, b), trial, x)
        small = better & (cost - new <= rtol * cost)
        cost = jnp.where(better, new, cost)
        lam = jnp.where(better, jnp.maximum(lam / 3, 1e-12), lam * 10)
        done = small | (lam >= 1e12)
        return i + 1, x, cost, lam, done, costs.at[i + 1].set(cost)

    cost0 = cost_fn(x0)
    costs = jnp.full((steps + 1,), cost0)
    init = (0, x0, cost0, jnp.asarray(lam0, dtype=cost0.dtype), ~jnp.isfinite(cost0), costs)
    i, x, cost, _, _, costs = jax.lax.while_loop(cond, body, init)
    costs = jnp.where(jnp.arange(steps + 1) > i, cost, costs)
    return x, costs


@dataclasses.dataclass(frozen=True)
class LeastSquaresResult:
    """What :func:`least_squares` and :func:`fit_states` return.

    Attributes:
        costs: the mean squared residual before and after each iteration, ``(steps + 1,)``
            (a stage's costs follow each other for :func:`fit_states`).
        seconds: wall-clock time of the fit, compilation included.
        noise_level: σ̂ per state component from the latent stage (``None`` without one).
        starts: the estimated window starting states ``(S, d)`` (``None`` without them).
    """

    costs: np.ndarray
    seconds: float
    noise_level: np.ndarray | None = None
    starts: np.ndarray | None = None


def _lm_program(params, rest, batch, *, graphdef, loss, steps, damping, max_step):
    """Levenberg-Marquardt on ``loss.residuals`` (see :func:`least_squares`): returns the
    fitted params and the costs."""
    theta0, unravel = ravel_pytree(params)

    # an inner jit: traced once for its three call sites (start, trial, Jacobian), not thrice
    @jax.jit
    def residual_of(theta, rest, batch):
        return loss.residuals(nnx.merge(graphdef, unravel(theta), rest), batch).ravel()

    def residual(theta):
        return residual_of(theta, rest, batch)

    def cost(theta):
        return jnp.mean(residual(theta) ** 2)

    def step(theta, lam):
        jac, r = jax.jacfwd(lambda th: (residual(th),) * 2, has_aux=True)(theta)
        a = jac.T @ jac
        g = jac.T @ r
        delta = jnp.linalg.solve(a + jnp.diag(_marquardt(jnp.diag(a), lam)), -g)
        if max_step is None:
            return theta + delta
        # a trust region in the parameters themselves: no component moves by more than
        # max_step (the step scaled down as a whole, its direction kept)
        return theta + delta * jnp.minimum(1.0, max_step / (jnp.max(jnp.abs(delta)) + 1e-300))

    theta, costs = _lm_loop(cost, step, theta0, steps, damping)
    return unravel(theta), costs


def _latent_program(params, rest, z0, ts, ys, *, graphdef, loss, steps, damping):
    """Levenberg-Marquardt on the latent-start shooting residuals with the starts eliminated
    by the Schur complement (see :func:`latent_least_squares`): returns the fitted (params,
    starts), the costs and the final residuals ``(S, W d)``."""
    theta0, unravel = ravel_pytree(params)
    shooting = loss._shooting

    def window(theta, z, t, y, rest):
        model = nnx.merge(graphdef, unravel(theta), rest)
        pred = shooting.predict(model, {"ts": t[None], "ys": z[None, None]})[0]
        return (pred - y).ravel()  # (W d,)

    # inner jits: the windows' solves are traced once for every call site of each (the
    # costs at the start and of every trial and the final residuals; the Jacobians and the
    # residuals of a step together), not once per site
    @jax.jit
    def residuals_of(theta, z, ts, ys, rest):
        return jax.vmap(window, in_axes=(None, 0, 0, 0, None))(theta, z, ts, ys, rest)

    @jax.jit
    def jacobians_of(theta, z, ts, ys, rest):
        def both(theta, z, t, y):
            r = window(theta, z, t, y, rest)
            return r, r

        (jt, jz), r = jax.vmap(
            jax.jacfwd(both, argnums=(0, 1), has_aux=True), in_axes=(None, 0, 0, 0)
        )(theta, z, ts, ys)
        return r, jt, jz

    def residuals(theta, z):
        return residuals_of(theta, z, ts, ys, rest)  # (S, W d)

    def cost(x):
        return jnp.mean(residuals(*x) ** 2)

    def step(x, lam):
        theta, z = x
        r, jt, jz = jacobians_of(theta, z, ts, ys, rest)  # (S, m), (S, m, P), (S, m, d)
        a = jnp.einsum("smp,smq->pq", jt, jt)
        b = jnp.einsum("smp,smd->spd", jt, jz)
        c = jnp.einsum("smd,sme->sde", jz, jz)
        ga = jnp.einsum("smp,sm->p", jt, r)
        gz = jnp.einsum("smd,sm->sd", jz, r)
        a = a + jnp.diag(_marquardt(jnp.diag(a), lam))
        cdiag = jnp.diagonal(c, axis1=1, axis2=2)
        c = c + jax.vmap(jnp.diag)(_marquardt(cdiag, lam))
        c_inv_bt = jnp.linalg.solve(c, jnp.swapaxes(b, 1, 2))  # (S, d, P)
        c_inv_g = jnp.linalg.solve(c, gz[..., None])[..., 0]  # (S, d)
        schur = a - jnp.einsum("spd,sdq->pq", b, c_inv_bt)
        rhs = -(ga - jnp.einsum("spd,sd->p", b, c_inv_g))
        dtheta = jnp.linalg.solve(schur, rhs)
        dz = -(c_inv_g + jnp.einsum("sdp,p->sd", c_inv_bt, dtheta))
        return theta + dtheta, z + dz

    (theta, z), costs = _lm_loop(cost, step, (theta0, z0), steps, damping)
    return (unravel(theta), z), costs, residuals(theta, z)


_LM = jax.jit(_lm_program, static_argnames=("graphdef", "loss", "steps", "damping", "max_step"))
_LATENT = jax.jit(_latent_program, static_argnames=("graphdef", "loss", "steps", "damping"))


def least_squares(
    model,
    data: Trajectories,
    loss,
    *,
    steps: int = 30,
    damping: float = 1e-3,
    max_step: float | None = None,
):
    r"""Fit ``model`` in place by Levenberg-Marquardt on a residual loss.

    Minimises ½|r(θ)|² over the model's ``nnx.Param`` values θ, r the flattened
    ``loss.residuals(model, batch)`` (e.g. :class:`WeakFormLoss`): each iteration solves

    .. math::
        (J^\top J + λ\,\mathrm{diag}(J^\top J))\,δ = -J^\top r,

    with J = ∂r/∂θ by forward-mode differentiation, takes the step if it lowers the cost
    (then λ ← λ/3) and otherwise raises λ ← 10λ; it stops early when the cost stalls. With
    ``max_step``, a step whose largest component exceeds it is scaled down to it: far from
    the optimum a bilinear coupling (the friction γ times ∂H/∂p of a dissipative HNN with a
    Polynomial H, γ small at the start) makes the full Gauss-Newton step overshoot in the
    weakly seen softplus direction, and max_step = 1 converges in ~10 iterations where the
    unbounded steps are rejected for the first ~5 and crawl; it slows down models whose
    parameters must move by tens (a KAN H fitting H ≈ 40 at |q| = 3), so it is off by
    default. For a model linear in its parameters
    (:class:`~physnet.approximators.Polynomial`, known forms) the weak-form loss is quadratic
    and one or two iterations reach its minimum. All iterations run in one compiled call.
    Cost: P forward passes per iteration (P parameters), so it suits models of up to a few
    thousand parameters.

    Args:
        model: any physnet model (updated in place).
        data: the trajectories.
        loss: a loss with ``residuals(model, batch)`` (:class:`WeakFormLoss`).
        steps: iterations (>= 1).
        damping: initial λ (> 0).
        max_step: the largest change of one parameter per iteration (> 0; None: unbounded).

    Returns:
        :class:`LeastSquaresResult` (``costs``, ``seconds``).

    Raises:
        ConfigError: for a loss without residuals, an invalid option, a model that is not a
            physnet model or states of another size than the model's (the checks of
            :func:`physnet.fit`; no LNN coordinates warning here). DataError: data that are
            not Trajectories (with physnet's losses).
        TrainingDivergedError: if the starting model's loss is not finite.

    Reference: Levenberg (1944); Marquardt (1963).
    """
    t0 = time.perf_counter()
    if not hasattr(loss, "residuals"):
        raise ConfigError(
            f"least_squares: the loss must define residuals(model, batch), got "
            f"{type(loss).__name__}; use WeakFormLoss or fit_states"
        )
    check_fit_inputs("least_squares", model, data, loss=loss, warn=False)
    steps = integer("least_squares", "steps", steps, low=1)
    damping = number("least_squares", "damping", damping, positive=True)
    if max_step is not None:
        max_step = number("least_squares", "max_step", max_step, positive=True)
    batch = loss.prepare(data)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    program = bind_static(
        _LM,
        _lm_program,
        graphdef=graphdef,
        loss=loss,
        steps=steps,
        damping=damping,
        max_step=max_step,
    )
    params, costs = program(params, rest, batch)
    costs = np.asarray(costs)
    _check_start(costs, "least_squares")
    nnx.update(model, params)
    return LeastSquaresResult(costs=costs, seconds=time.perf_counter() - t0)


def _check_start(costs, owner: str) -> None:
    """Refuse a fit whose starting cost is non-finite (no step can be taken from it)."""
    if not np.isfinite(costs[0]):
        raise TrainingDivergedError(
            0,
            float("nan"),
            message=f"{owner}: the loss of the starting model is not finite ({costs[0]}); "
            "start from a model whose solutions stay finite (e.g. after the weak-form stage)",
        )


def latent_least_squares(
    model,
    data: Trajectories,
    loss: LatentShootingLoss,
    *,
    steps: int = 20,
    damping: float = 1e-3,
    starts=None,
):
    r"""Fit a model and its latent starts by Levenberg-Marquardt.

    Fit ``model`` in place together with the latent starts of :class:`LatentShootingLoss`
    by Levenberg-Marquardt with the Schur complement of the starts (errors in variables).

    The residual of window k is r_k(θ, z_k) = Φ_θ(t_{s_k+j}; z_k) - y_{s_k+j}, j = 0..W-1.
    With the per-window Jacobians J_k = ∂r_k/∂θ and G_k = ∂r_k/∂z_k (forward mode, vmapped
    over the windows), the damped Gauss-Newton equations

    .. math::
        \begin{pmatrix} \sum_k J_k^\top J_k + Λ & J_k^\top G_k \\
        G_k^\top J_k & G_k^\top G_k + Λ_k \end{pmatrix}
        \begin{pmatrix} δθ \\ δz_k \end{pmatrix} = -\begin{pmatrix} \sum_k J_k^\top r_k \\
        G_k^\top r_k \end{pmatrix}

    are solved by eliminating every δz_k (a d×d solve each), which leaves one P×P system for
    δθ: each iteration costs (P + d) forward solves of every window, and converges like
    Gauss-Newton near the optimum instead of crawling like a first-order method on the
    joint problem. Steps are taken when they lower the cost (λ as :func:`least_squares`).

    Args:
        model: any physnet model (updated in place).
        data: the trajectories (noisy states).
        loss: the :class:`LatentShootingLoss` (window, stride, solver, substeps).
        steps: iterations (>= 1).
        damping: initial λ (> 0).
        starts: initial latent starts ``(S, d)`` (default: the observed first state of each
            window).

    Returns:
        :class:`LeastSquaresResult` with ``noise_level`` (σ̂ per component, as
        :meth:`LatentShootingLoss.noise_level`) and ``starts``.

    Raises:
        ConfigError: for another loss, an invalid option, starts of the wrong shape, or the
            model and data checks of :func:`physnet.fit`. DataError: data that are not
            Trajectories.
        TrainingDivergedError: if the starting model's loss is not finite (e.g. its
            solutions blow up over the windows).

    Reference: Bock & Plitt (1984); Golub & Pereyra, "Separable nonlinear least squares"
    (2003), for eliminating the local unknowns.
    """
    t0 = time.perf_counter()
    if not isinstance(loss, LatentShootingLoss):
        raise ConfigError(
            f"latent_least_squares: loss must be a LatentShootingLoss, got {type(loss).__name__}"
        )
    check_fit_inputs("latent_least_squares", model, data, warn=False)
    steps = integer("latent_least_squares", "steps", steps, low=1)
    damping = number("latent_least_squares", "damping", damping, positive=True)
    batch = loss.prepare(data)
    ts, ys = batch["ts"], batch["ys"]
    z0 = ys[:, 0] if starts is None else jnp.asarray(starts, dtype=jnp.float64)
    if z0.shape != ys[:, 0].shape:
        raise ConfigError(
            f"latent_least_squares: starts must have shape {tuple(ys[:, 0].shape)}, "
            f"got {tuple(z0.shape)}"
        )
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    program = bind_static(
        _LATENT, _latent_program, graphdef=graphdef, loss=loss, steps=steps, damping=damping
    )
    (params, z), costs, r = program(params, rest, z0, ts, ys)
    costs = np.asarray(costs)
    _check_start(costs, "latent_least_squares")
    nnx.update(model, params)
    err = np.asarray(r).reshape(ys.shape)
    sigma = np.sqrt(np.sum(err**2, axis=(0, 1)) / (ys.shape[0] * (ys.shape[1] - 1)))
    return LeastSquaresResult(
        costs=np.asarray(costs),
        seconds=time.perf_counter() - t0,
        noise_level=sigma,
        starts=np.asarray(z),
    )


def fit_states(
    model,
    data: Trajectories,
    *,
    weak: WeakFormLoss | None = None,
    latent: LatentShootingLoss | None = None,
    weak_steps: int = 30,
    latent_steps: int = 20,
    max_step: float | None = None,
) -> LeastSquaresResult:
    r"""The states-only road: identify ``model`` from noisy states without derivatives.

    Stage 1 (initialisation, no derivative of the data): :func:`least_squares` on the
    weak-form loss (:class:`WeakFormLoss`, default options). Stage 2 (errors in variables):
    :func:`latent_least_squares` on latent-start multiple shooting
    (:class:`LatentShootingLoss`; default: whole trajectories as windows, longer ones cut
    into windows of 100 observations, RK4 with 8 substeps per observation interval), its starts initialised at
    the observed states, jointly with the model. The weak stage brings the model close enough
    that Gauss-Newton on the shooting problem converges; the shooting stage removes the
    weak form's quadrature error (σ = 0) and the bias of evaluating the field at noisy states
    (σ > 0), and estimates the noise level σ̂.

    Trade-offs: both stages are second-order solvers whose cost grows with P² (P model
    parameters), fine for structured models (a :class:`~physnet.approximators.Polynomial`
    Hamiltonian: P ≈ 15) and small networks, not for large ones (use :func:`physnet.fit`
    with the same losses there). The shooting stage integrates the model over whole windows:
    it needs a model whose flow is stable over the window, and a starting point (stage 1)
    near the optimum.

    Args:
        model: any physnet model (updated in place).
        data: the trajectories (states; derivatives are not used).
        weak: the stage-1 loss (default ``WeakFormLoss()``); ``weak_steps=0`` skips it.
        latent: the stage-2 loss (default ``LatentShootingLoss(min(100, T), substeps=8)``,
            T the longest trajectory; measured with T = 25, 50, 100, not beyond);
            ``latent_steps=0`` skips it.
        weak_steps, latent_steps: Levenberg-Marquardt iterations of each stage.
        max_step: the stage-1 trust region of :func:`least_squares` (1 for a Polynomial H
            with a friction γ; None, the default, for networks).

    Returns:
        :class:`LeastSquaresResult`: the costs of both stages, the total seconds, σ̂ and the
        estimated starts (of stage 2).

    Raises:
        ConfigError: on an invalid option, a model that is not a physnet model or states of
            another size than the model's; DataError: data that are not Trajectories.
            TrainingDivergedError: if a stage starts from a non-finite loss.

    Reference: Messenger & Bortz (2021) for the weak form; Bock & Plitt (1984) and
    Golub & Pereyra (2003) for shooting with eliminated starting states.
    """
    t0 = time.perf_counter()
    check_fit_inputs("fit_states", model, data)
    weak_steps = integer("fit_states", "weak_steps", weak_steps, low=0)
    latent_steps = integer("fit_states", "latent_steps", latent_steps, low=0)
    costs = []
    if weak_steps:
        stage = least_squares(
            model, data, weak or WeakFormLoss(), steps=weak_steps, max_step=max_step
        )
        costs.append(stage.costs)
    result = None
    if latent_steps:
        if latent is None:
            window = int(min(100, np.max(data.trajectory_lengths)))
            latent = LatentShootingLoss(max(window, 2), substeps=8)
        result = latent_least_squares(model, data, latent, steps=latent_steps)
        costs.append(result.costs)
    return LeastSquaresResult(
        costs=np.concatenate(costs) if costs else np.zeros(0),
        seconds=time.perf_counter() - t0,
        noise_level=None if result is None else result.noise_level,
        starts=None if result is None else result.starts,
    )
