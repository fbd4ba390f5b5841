"""The peer a reader might pick instead: MiniVGGNet, the post's optimizer and batch size, in PyTorch eager on the CPU,
for the benchmark's `pytorch` configuration (`python -m tools.benchmark --configurations tensorflow pytorch`).

The same layers as pyimagesearch/minivggnet.py (batch-norm with Keras's epsilon 0.001 and momentum 0.99, PyTorch's
0.01), the same cross-entropy, batch size 32 and the post's learning rate 0.01 / (1 + 0.0004 * iteration) with
momentum 0.9. PyTorch's SGD keeps its momentum buffer before the learning rate is applied (buffer = 0.9 * buffer +
gradient; weight -= rate * buffer) where Keras keeps it after (m = 0.9 * m - rate * gradient; weight += m): with a
decaying rate the two updates differ a little; they cost the same.
"""
import time


def minivggnet(torch):
    nn = torch.nn

    def block(inputs, filters):
        return [nn.Conv2d(inputs, filters, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01),
                nn.Conv2d(filters, filters, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01),
                nn.MaxPool2d(2), nn.Dropout(0.25)]

    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(),
                         nn.BatchNorm1d(512, eps=1e-3, momentum=0.01), nn.Dropout(0.5), nn.Linear(512, 10))


def time_pytorch(images, labels, steps, batch_size=32, warm_up=20):
    """(seconds for `steps` training batches, seconds for as many validation images in batches), after a warm-up;
    `images` in NHWC on [0, 1], `labels` integers."""
    import torch

    torch.manual_seed(0)
    model = minivggnet(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda iteration: 1 / (1 + 0.0004 * iteration))
    loss_function = torch.nn.CrossEntropyLoss()
    inputs = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    targets = torch.from_numpy(labels.astype("int64"))

    def train(count):
        model.train()
        order = torch.randperm(len(inputs))[:count * batch_size]
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_function(model(inputs[batch]), targets[batch])
            loss.backward()
            optimizer.step()
            schedule.step()
            float(loss)  # the batch has run once its loss is a Python number

    def validate(count):
        model.eval()
        with torch.no_grad():
            for start in range(len(inputs) - count * batch_size, len(inputs), batch_size):
                float(loss_function(model(inputs[start:start + batch_size]), targets[start:start + batch_size]))

    train(warm_up)
    validate(warm_up)
    started = time.perf_counter()
    train(steps)
    trained = time.perf_counter()
    validate(steps)
    return trained - started, time.perf_counter() - trained
