"""The consumer's bulk acknowledgement: never acks a delivery that is still being handled."""

import asyncio
import random

from shared.bus import Acker


class Delivery:
    """Records what the acker sends for it (the broker side is in the bus tests)."""

    def __init__(self, tag: int, wire: list) -> None:
        self.delivery_tag = tag
        self.wire = wire

    async def ack(self, multiple: bool = False) -> None:
        self.wire.append(("ack", self.delivery_tag, multiple))

    async def nack(self, requeue: bool = True) -> None:
        self.wire.append(("nack", self.delivery_tag, requeue))


def acked_by(wire: list) -> set[int]:
    """Tags the broker considers settled after these frames."""
    done: set[int] = set()
    for kind, tag, flag in wire:
        if kind == "ack" and flag:
            done |= set(range(1, tag + 1))
        else:
            done.add(tag)
    return done


async def test_acks_the_settled_prefix_in_one_frame():
    wire: list = []
    acker = Acker()
    d = [Delivery(t, wire) for t in range(1, 7)]
    for tag in (2, 3):
        await acker.settle(d[tag - 1], ack=True)
    assert wire == []  # 1 is still being handled
    await acker.settle(d[0], ack=True)
    assert wire == [("ack", 3, True)]
    await acker.settle(d[4], ack=True)
    await acker.settle(d[3], ack=False)  # requeued at once, alone
    assert wire[1:] == [("nack", 4, True), ("ack", 5, True)]
    await acker.settle(d[5], ack=False)
    assert wire[3:] == [("nack", 6, True)]  # nothing left to ack
    assert acker.floor == 6


async def test_any_settle_order_acks_exactly_the_settled_and_never_more():
    rng = random.Random(7)
    for _ in range(200):
        wire: list = []
        acker = Acker()
        n = rng.randint(1, 40)
        deliveries = [Delivery(t, wire) for t in range(1, n + 1)]
        order = deliveries[:]
        rng.shuffle(order)
        settled: set[int] = set()
        for delivery in order:
            await acker.settle(delivery, ack=rng.random() < 0.8)
            settled.add(delivery.delivery_tag)
            # The broker never sees a delivery settled that the consumer has not finished.
            assert acked_by(wire) <= settled
        assert acked_by(wire) == set(range(1, n + 1))
        tags = [tag for kind, tag, _ in wire if kind == "ack"]
        assert tags == sorted(set(tags))  # ack frames go out in tag order, each tag once


async def test_concurrent_settles_keep_frames_in_order():
    wire: list = []
    acker = Acker()
    deliveries = [Delivery(t, wire) for t in range(1, 101)]

    async def settle(delivery):
        await asyncio.sleep(random.random() / 1000)
        await acker.settle(delivery, ack=True)

    await asyncio.gather(*(settle(d) for d in deliveries))
    tags = [tag for _, tag, _ in wire]
    assert tags == sorted(set(tags)) and tags[-1] == 100
