"""Lesson 02's checkers: latent_recursion and deep_recursion against TRM's own methods."""
import torch

from trm_lib.course.exercises import (check_deep_recursion, check_latent_recursion, reference_deep_recursion,
                               reference_latent_recursion)
from trm_lib.model import TRM
from tests.conftest import tiny_config


def out(capsys) -> str:
    return capsys.readouterr().out.strip()


def good_latent(net, x, y, z, n):
    for _ in range(n):
        z = net(x + y + z)
    return net(y + z), z


def good_deep(net, head, x, y, z, T, n):
    with torch.no_grad():
        for _ in range(T - 1):
            y, z = good_latent(net, x, y, z, n)
    y, z = good_latent(net, x, y, z, n)
    return y.detach(), z.detach(), head(y)


def test_the_reference_functions_are_trms_own_methods():
    model = TRM(tiny_config(T=3, n=2))
    x, y, z = (torch.randn(2, model.cfg.total_len, 16) for _ in range(3))
    ly, lz = reference_latent_recursion(model.net, x, y, z, 2)
    ey, ez = model.latent_recursion(x, y, z)
    assert torch.equal(ly, ey) and torch.equal(lz, ez)
    P = model.cfg.puzzle_emb_len
    dy, dz, logits = reference_deep_recursion(model.net, lambda h: model.head(h)[:, P:], x, y, z, 3, 2)
    out_ = model.deep_recursion(x, y, z)
    assert torch.equal(dy, out_.y) and torch.equal(dz, out_.z) and torch.equal(logits, out_.logits)


# -- latent_recursion -------------------------------------------------------------------------

def test_a_correct_latent_recursion_passes(capsys):
    assert check_latent_recursion(good_latent) is good_latent
    assert out(capsys).startswith("✓ latent_recursion matches TRM.latent_recursion for n = 1, 2, 3")


def test_a_latent_recursion_stub_is_not_attempted_yet(capsys):
    def stub(net, x, y, z, n):
        raise NotImplementedError

    assert check_latent_recursion(stub) is reference_latent_recursion
    assert out(capsys) == "latent_recursion: not attempted yet, using the reference"


def test_injecting_x_into_the_answer_update_is_named(capsys):
    def mine(net, x, y, z, n):
        for _ in range(n):
            z = net(x + y + z)
        return net(x + y + z), z

    assert check_latent_recursion(mine) is reference_latent_recursion
    msg = out(capsys)
    assert "values differ: max difference" in msg and "x is injected into the answer update" in msg


def test_updating_y_inside_the_loop_is_named(capsys):
    def mine(net, x, y, z, n):
        for _ in range(n):
            z = net(x + y + z)
            y = net(y + z)
        return y, z

    check_latent_recursion(mine)
    assert "y is updated once, after all n latent updates" in out(capsys)


def test_a_latent_recursion_that_detaches_fails_the_gradient_check(capsys):
    def mine(net, x, y, z, n):
        y, z = good_latent(net, x, y, z, n)
        return y, z.detach()

    check_latent_recursion(mine)
    msg = out(capsys)
    assert "your z does not carry gradients" in msg and "Likely cause" not in msg


def test_updating_y_before_the_latent_updates_is_named(capsys):
    def mine(net, x, y, z, n):
        y = net(y + z)
        for _ in range(n):
            z = net(x + y + z)
        return y, z

    check_latent_recursion(mine)
    msg = out(capsys)
    assert "y values differ" in msg and "y is updated before the latent updates" in msg


def test_returning_z_and_y_swapped_names_y_and_the_order(capsys):
    def mine(net, x, y, z, n):
        y, z = good_latent(net, x, y, z, n)
        return z, y

    check_latent_recursion(mine)
    msg = out(capsys)
    assert "y values differ" in msg and "output 0" not in msg and "you returned (z, y)" in msg


def test_a_deep_recursion_returning_z_first_is_named(capsys):
    def mine(net, head, x, y, z, T, n):
        y, z, logits = good_deep(net, head, x, y, z, T, n)
        return z, y, logits

    check_deep_recursion(mine)
    msg = out(capsys)
    assert "y values differ" in msg and "return (y, z, logits)" in msg


def test_a_latent_recursion_that_raises_gets_one_line(capsys):
    def mine(net, x, y, z, n):
        return net(torch.cat([x, y], -1)), z

    check_latent_recursion(mine)
    msg = out(capsys)
    assert msg.startswith("✗ latent_recursion (n=1) raised RuntimeError") and "\n" not in msg


# -- deep_recursion ---------------------------------------------------------------------------

def test_a_correct_deep_recursion_passes(capsys):
    assert check_deep_recursion(good_deep) is good_deep
    assert out(capsys).startswith("✓ deep_recursion matches TRM.deep_recursion")


def test_a_deep_recursion_stub_is_not_attempted_yet(capsys):
    def stub(net, head, x, y, z, T, n):
        raise NotImplementedError

    assert check_deep_recursion(stub) is reference_deep_recursion
    assert out(capsys) == "deep_recursion: not attempted yet, using the reference"


def test_backpropagating_through_every_recursion_is_caught(capsys):
    def mine(net, head, x, y, z, T, n):
        for _ in range(T):
            y, z = good_latent(net, x, y, z, n)
        return y.detach(), z.detach(), head(y)

    assert check_deep_recursion(mine) is reference_deep_recursion
    msg = out(capsys)
    assert "deep_recursion (T=2, n=1)" in msg and "gradients reach the starting y and z" in msg


def test_forgetting_to_detach_the_carry_is_caught(capsys):
    def mine(net, head, x, y, z, T, n):
        with torch.no_grad():
            for _ in range(T - 1):
                y, z = good_latent(net, x, y, z, n)
        y, z = good_latent(net, x, y, z, n)
        return y, z, head(y)

    check_deep_recursion(mine)
    assert "still carry gradients; return y.detach() and z.detach()" in out(capsys)


def test_one_recursion_too_many_is_named(capsys):
    def mine(net, head, x, y, z, T, n):
        return good_deep(net, head, x, y, z, T + 1, n)

    check_deep_recursion(mine)
    msg = out(capsys)
    assert "values differ" in msg and "T recursions in all" in msg


def test_a_deep_recursion_entirely_without_gradients_is_caught(capsys):
    @torch.no_grad()
    def mine(net, head, x, y, z, T, n):
        return good_deep(net, head, x, y, z, T, n)

    check_deep_recursion(mine)
    assert "does not carry gradients" in out(capsys)
