"""Health alerts on recorded series: each fires on its pattern and stays quiet on a healthy curve."""

import math

from core.train.alerts import HealthMonitor


def healthy_losses(n=60):
    return [2.0 * math.exp(-i / 40) + 0.5 + 0.02 * ((i * 7) % 5 - 2) for i in range(n)]


def feed(monitor, losses, grads=None):
    alerts = []
    for i, loss in enumerate(losses, 1):
        alerts += monitor.observe_step(i, loss, (grads or [1.0] * len(losses))[i - 1])
    return alerts


def test_healthy_curve_is_quiet():
    m = HealthMonitor(warmup_steps=2, total_steps=60)
    alerts = feed(m, healthy_losses(), [1.0 + 0.1 * (i % 3) for i in range(60)])
    for step, ev in zip(range(10, 61, 10), [1.5, 1.3, 1.2, 1.1, 1.05, 1.0]):
        alerts += m.observe_eval(step, ev)
    assert alerts == []
    assert m.stop_reason is None


def test_loss_spike_fires_once_per_cooldown():
    losses = healthy_losses(20) + [9.0, 9.5] + healthy_losses(40)[20:30]
    alerts = feed(HealthMonitor(total_steps=100), losses)
    spikes = [a for a in alerts if a["kind"] == "loss_spike"]
    assert len(spikes) == 1 and spikes[0]["step"] == 21
    assert "learning rate" in spikes[0]["advice"]


def test_nan_loss_stops():
    m = HealthMonitor()
    alerts = feed(m, [2.0, 1.9, float("nan")])
    assert [a["kind"] for a in alerts] == ["nan_loss"]
    assert m.stop_reason == "nan_loss"


def test_grad_explosion():
    grads = [1.0] * 10 + [50.0]
    alerts = feed(HealthMonitor(), healthy_losses(11), grads)
    assert [a["kind"] for a in alerts] == ["grad_explosion"]


def test_flat_loss_after_warmup():
    m = HealthMonitor(warmup_steps=5, total_steps=50)
    alerts = feed(m, [3.0 + 0.01 * (i % 2) for i in range(5 + 20)])
    assert [a["kind"] for a in alerts] == ["flat_loss"]
    assert "too low" in alerts[0]["advice"]


def test_overfitting_needs_rising_eval_and_falling_train():
    m = HealthMonitor(overfit_patience=3, early_stop=True)
    alerts = []
    losses = healthy_losses(50)
    for i, loss in enumerate(losses, 1):
        m.observe_step(i, loss)
        if i % 10 == 0:
            alerts += m.observe_eval(i, {10: 1.0, 20: 1.1, 30: 1.2, 40: 1.3, 50: 1.4}[i])
    assert [a["kind"] for a in alerts] == ["overfitting"]
    assert m.stop_reason == "overfitting"
    quiet = HealthMonitor(overfit_patience=3)
    for step, ev in [(10, 1.0), (20, 1.1), (30, 1.05), (40, 1.2)]:
        assert quiet.observe_eval(step, ev) == []
