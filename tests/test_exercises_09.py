"""Lesson 09's checkers: your TRM's input embedding, supervision step and training step, right, wrong and unattempted."""
import torch
import torch.nn.functional as F

from trm_lib.course.exercises.lesson09 import (check_embed_input, check_my_trm, check_train_step, reference_embed_input,
                                               reference_train_step)
from trm_lib.losses import cell_cross_entropy, trm_loss
from trm_lib.model import TRM, StepOutput


def out(capsys) -> str:
    return capsys.readouterr().out.strip()


def test_the_library_trm_passes_and_is_handed_back(capsys):
    assert check_my_trm(TRM) is TRM
    assert out(capsys).startswith("✓ MyTRM matches trm_lib.TRM")


def test_a_model_whose_forward_is_a_stub_is_not_attempted_yet(capsys):
    class Stub(TRM):
        def forward(self, inputs, y=None, z=None):
            raise NotImplementedError

    assert check_my_trm(Stub) is TRM
    assert out(capsys) == "MyTRM: not attempted yet, using the reference"


def test_a_halting_head_read_from_the_last_position_is_named(capsys):
    class LastPosition(TRM):
        def forward(self, inputs, y=None, z=None):
            x = self.embed_input(inputs)
            if y is None:
                y, z = self.initial_state(inputs.shape[0])
            with torch.no_grad():
                for _ in range(self.cfg.T - 1):
                    y, z = self.latent_recursion(x, y, z)
            y, z = self.latent_recursion(x, y, z)
            q = self.q_head(y[:, -1]).float()  # the last cell, not the first prefix position
            return StepOutput(y.detach(), z.detach(), self.head(y)[:, self.cfg.puzzle_emb_len:], q[:, 0], q[:, 1])

    check_my_trm(LastPosition)
    msg = out(capsys)
    assert "q_halt values differ" in msg and "read from the first prefix position" in msg


def test_an_input_without_the_sqrt_d_scale_is_caught_at_the_first_step(capsys):
    class Unscaled(TRM):
        def embed_input(self, inputs, puzzle_ids=None):
            return super().embed_input(inputs, puzzle_ids) / self.embed_scale

    check_my_trm(Unscaled)
    assert out(capsys).startswith("✗ MyTRM: step 1: y values differ")


def test_a_model_with_other_weight_names_is_told_which(capsys):
    class Renamed(TRM):
        def __init__(self, cfg):
            super().__init__(cfg)
            self.answer_head = self.head
            del self.head

    check_my_trm(Renamed)
    msg = out(capsys)
    assert "its weights are not TRM's" in msg and "extra answer_head.weight" in msg and "missing head.weight" in msg


def _step(model, shadow, inputs, labels, optimizer, decay, ema=True, loss_kind="stablemax", zero_grad=True):
    y = z = None
    losses = []
    for _ in range(model.cfg.n_sup):
        o = model(inputs, y, z)
        exact = (o.logits.argmax(-1) == labels).all(-1).float()
        loss = cell_cross_entropy(o.logits, labels, loss_kind).mean() + \
            0.5 * F.binary_cross_entropy_with_logits(o.q_halt, exact)
        loss.backward()
        optimizer.step()
        if zero_grad:
            optimizer.zero_grad()
        if ema:
            with torch.no_grad():
                for name, w in model.named_parameters():
                    shadow[name] = decay * shadow[name] + (1 - decay) * w.detach()
        y, z = o.y.detach(), o.z.detach()
        losses.append(loss.item())
    return losses


def test_the_reference_train_step_and_one_built_from_the_lessons_pieces_pass(capsys):
    assert check_train_step(reference_train_step) is reference_train_step
    check_train_step(_step)
    assert out(capsys).count("✓ train_step matches") == 2


def test_a_train_step_stub_is_not_attempted_yet(capsys):
    def stub(model, shadow, inputs, labels, optimizer, decay):
        raise NotImplementedError

    assert check_train_step(stub) is reference_train_step
    assert out(capsys) == "train_step: not attempted yet, using the reference"


def test_a_forgotten_ema_update_names_the_shadow(capsys):
    check_train_step(lambda *a: _step(*a, ema=False))
    msg = out(capsys)
    assert "EMA shadow of" in msg and "ema_update(shadow[name]" in msg


def test_softmax_in_place_of_stablemax_is_caught_at_the_first_step(capsys):
    check_train_step(lambda *a: _step(*a, loss_kind="softmax"))
    assert "the loss of step 1 is" in out(capsys)


def test_gradients_never_cleared_show_in_the_weights(capsys):
    check_train_step(lambda *a: _step(*a, zero_grad=False))
    msg = out(capsys)
    assert "the loss of step 3 is" in msg and "optimizer.zero_grad()" in msg


def test_the_reference_train_step_uses_trms_loss():
    model = TRM(check_train_step.__globals__["_tiny_config"]())
    inputs = torch.randint(1, 5, (2, 9))
    shadow = {k: w.detach().clone() for k, w in model.named_parameters()}
    losses = reference_train_step(model, shadow, inputs, inputs, torch.optim.SGD(model.parameters(), lr=0.0), 0.9)
    first = trm_loss(model(inputs).logits, inputs, model(inputs).q_halt).total.item()
    assert abs(losses[0] - first) < 1e-5


# -- the input embedding -------------------------------------------------------------------

def _embed(model, inputs, scale=True, puzzle=True):
    cfg = model.cfg
    tokens = model.embed_tokens[inputs]
    prefix = tokens.new_zeros(inputs.shape[0], cfg.puzzle_emb_len, cfg.hidden_size)
    if puzzle:
        prefix[:, 0] = model.puzzle_emb[0]
    x = torch.cat((prefix, tokens), dim=1)
    return cfg.hidden_size ** 0.5 * x if scale else x


def test_an_embedding_written_as_trm_embeds_passes_and_is_handed_back(capsys):
    assert check_embed_input(_embed) is _embed
    assert out(capsys).startswith("✓ embed_input matches the reference on 3 random inputs (values and gradients)")


def test_an_embedding_without_the_sqrt_d_scale_is_named(capsys):
    assert check_embed_input(lambda m, i: _embed(m, i, scale=False)) is reference_embed_input
    assert "Likely cause: everything is multiplied by sqrt(D)" in out(capsys)


def test_an_embedding_without_the_puzzle_vector_is_named(capsys):
    check_embed_input(lambda m, i: _embed(m, i, puzzle=False))
    assert "Likely cause: prefix slot 0 holds the puzzle vector" in out(capsys)


def test_an_embedding_left_as_a_stub_is_not_attempted_yet(capsys):
    def stub(model, inputs):
        raise NotImplementedError

    assert check_embed_input(stub) is reference_embed_input
    assert out(capsys) == "embed_input: not attempted yet, using the reference"
