"""The pieces compose: ACT slot refill + TRM loss + AdamATan2 + EMA learn a toy task."""
import torch

from tests.conftest import tiny_config
from trm_lib.act import evaluate_steps, initial_carry, train_step_forward
from trm_lib.config import TrainConfig
from trm_lib.ema import EMA
from trm_lib.losses import exact_match, trm_loss
from trm_lib.model import TRM
from trm_lib.optim import build_optimizer, set_learning_rate


def test_the_training_loop_learns_to_sort_a_short_sequence():
    # toy task: output the input's tokens in sorted order (needs token mixing)
    torch.manual_seed(0)
    cfg = tiny_config(vocab_size=6, seq_len=6, hidden_size=32, T=2, n=2, n_sup=2)
    model = TRM(cfg)
    train = TrainConfig(lr=3e-3, puzzle_emb_lr=3e-3, weight_decay=0.0, warmup_steps=20)
    opt = build_optimizer(model, train)
    ema = EMA(model, decay=0.9)
    g = torch.Generator().manual_seed(0)

    def batch(n):
        x = torch.randint(1, 6, (n, 6), generator=g)
        return x, x.sort(dim=1).values

    test_x, test_y = batch(256)
    before = exact_match(evaluate_steps(model, test_x)[-1].logits, test_y).float().mean()

    x, y = batch(64)
    carry = initial_carry(model, x, y)
    for step in range(220):  # 0.66 exact after 220 steps on the course CPU; 300 cost a third more
        x, y = batch(64)
        set_learning_rate(opt, step, train.warmup_steps)
        carry, out = train_step_forward(model, carry, x, y, generator=g)
        loss = trm_loss(out.logits, carry.labels, out.q_halt)
        opt.zero_grad()
        loss.total.backward()
        opt.step()
        ema.update(model)

    with ema.applied(model):
        after = exact_match(evaluate_steps(model, test_x)[-1].logits, test_y).float().mean()
    assert before < 0.05 and after > 0.5, (before, after)
