"""One module per data set (MNIST, flowers, cactus, cats and dogs, CIFAR-10, photos), image checks,
verified downloads and generated stand-ins."""

__all__: list[str] = []
