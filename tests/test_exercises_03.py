"""Lesson 03's checkers: the supervision loop and the 1-step gradient, right, wrong and unattempted."""
import torch

from trm_lib.course.exercises import check_deep_supervision, check_one_step_gradient, reference_one_step_gradient
from trm_lib.losses import trm_loss
from trm_lib.course.supervision import deep_supervision


def _loop(model, inputs, labels, n_sup, optimizer, carry=True, detach=True, step_every=True):
    """The supervision loop with switches for the usual mistakes."""
    cfg = model.cfg
    y, z = model.initial_state(inputs.shape[0])
    losses, total = [], 0
    for _ in range(n_sup):
        x = model.embed_input(inputs)
        with torch.no_grad():
            for _ in range(cfg.T - 1):
                y, z = model.latent_recursion(x, y, z)
        y_new, z_new = model.latent_recursion(x, y, z)
        logits, q = model.readout(y_new)
        loss = trm_loss(logits, labels, q[:, 0]).total
        losses.append(loss.item())
        if step_every:
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        else:
            total = total + loss
        if carry:
            y, z = (y_new.detach(), z_new.detach()) if detach else (y_new, z_new)
    if not step_every:
        total.backward()
        optimizer.step()
    return losses


def test_the_reference_loop_passes_and_is_used(capsys):
    assert check_deep_supervision(deep_supervision) is deep_supervision
    assert "✓ deep_supervision matches" in capsys.readouterr().out


def test_a_loop_written_from_latent_recursion_passes(capsys):
    check_deep_supervision(_loop)
    assert "✓" in capsys.readouterr().out


def test_a_stub_is_not_attempted_yet(capsys):
    def stub(model, inputs, labels, n_sup, optimizer):
        raise NotImplementedError

    assert check_deep_supervision(stub) is deep_supervision
    assert "deep_supervision: not attempted yet, using the reference" in capsys.readouterr().out


def test_a_missing_detach_says_to_detach_the_carry(capsys):
    check_deep_supervision(lambda *a: _loop(*a, detach=False))
    out = capsys.readouterr().out
    assert "✗ deep_supervision raised RuntimeError" in out and "carry y.detach() and z.detach()" in out
    assert "Traceback" not in out


def _model_loop(model, inputs, labels, n_sup, optimizer, detach=True):
    """The loop as the lesson writes it, on model(inputs, y, z), with the detach switchable."""
    y = z = None
    losses = []
    for _ in range(n_sup):
        out = model(inputs, y, z)
        loss = trm_loss(out.logits, labels, out.q_halt).total
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        y, z = (out.y.detach(), out.z.detach()) if detach else (out.y, out.z)
        losses.append(loss.item())
    return losses


def test_the_lessons_loop_with_its_detach_passes(capsys):
    check_deep_supervision(_model_loop)
    assert "✓ deep_supervision matches" in capsys.readouterr().out


def test_a_missing_detach_after_model_call_is_caught(capsys):
    # TRM's own step returns its carry detached; the check must still see the loop forget it
    assert check_deep_supervision(lambda *a: _model_loop(*a, detach=False)) is deep_supervision
    out = capsys.readouterr().out
    assert "✗ deep_supervision (T=1)" in out and "without .detach()" in out and "out.y.detach()" in out


def test_restarting_every_step_from_the_initial_state_names_the_step(capsys):
    check_deep_supervision(lambda *a: _loop(*a, carry=False))
    out = capsys.readouterr().out
    assert "the loss of step 2 is" in out and "carry the y and z of the step before" in out


def test_one_optimizer_step_at_the_end_is_caught(capsys):
    check_deep_supervision(lambda *a: _loop(*a, step_every=False))
    assert "the optimizer stepped 1 time, expected once after every supervision step" in capsys.readouterr().out


def test_gradients_that_are_never_cleared_are_caught_with_a_hint(capsys):
    def no_zero_grad(model, inputs, labels, n_sup, optimizer):
        optimizer.zero_grad = lambda *a, **k: None
        return deep_supervision(model, inputs, labels, n_sup, optimizer)

    check_deep_supervision(no_zero_grad)
    out = capsys.readouterr().out
    assert "gradient of" in out and "at step 2" in out and "optimizer.zero_grad()" in out


def test_returning_nothing_asks_for_the_losses(capsys):
    check_deep_supervision(lambda *a: None)
    assert "return the list of the 3 step losses" in capsys.readouterr().out


def _one_step(model, x, y, z):
    with torch.no_grad():
        for _ in range(model.cfg.n - 1):
            z = model.net(x + y + z)
    z = model.net(x + y + z)
    return model.net(y + z), z


def test_the_one_step_gradient_passes(capsys):
    assert check_one_step_gradient(_one_step) is _one_step
    assert "✓ one_step_gradient_recursion matches" in capsys.readouterr().out


def test_the_full_gradient_in_place_of_the_one_step_gradient_is_caught_by_its_gradients(capsys):
    check_one_step_gradient(lambda model, x, y, z: model.latent_recursion(x, y, z))
    out = capsys.readouterr().out
    assert "gradient of input" in out and "torch.no_grad()" in out and "values differ" in out


def test_the_one_step_stub_is_not_attempted_yet(capsys):
    def stub(model, x, y, z):
        raise NotImplementedError

    assert check_one_step_gradient(stub) is reference_one_step_gradient
    assert "not attempted yet, using the reference" in capsys.readouterr().out


def test_an_error_in_the_one_step_code_is_one_line(capsys):
    check_one_step_gradient(lambda model, x, y, z: model.net(x + y))
    out = capsys.readouterr().out.strip()
    assert out.startswith("✗ one_step_gradient_recursion") and "\n" not in out
