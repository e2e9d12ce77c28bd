"""Exact parameter and mult-add figures of the paper and the authors' networks."""
import pytest
import timm

from relnas_zoo.complexity import count_params, measure

# model: (live params, live mult-adds, published params, published mult-adds), mult-adds in units of 10 kMAdds
# (the paper gives them to 0.01 M)
FIGURES = {
    'relativenas_cifar10': (3_875_950, 595.60, 3_928_222, 616.83),
    'relativenas_cifar100': (3_927_880, 595.65, 3_980_152, 616.88),
    'relativenas': (4_964_837, 536.43, 5_050_029, 562.97),
    'darts_v2_cifar10': (3_349_342, 528.36, 3_349_342, 528.36),
    'darts_v2': (4_718_752, 529.91, 4_718_752, 529.91),
}
DEAD_PARAMS = {'relativenas_cifar10': 52_272, 'relativenas_cifar100': 52_272, 'relativenas': 85_192,
               'darts_v2_cifar10': 0, 'darts_v2': 0}


@pytest.mark.parametrize('name', list(FIGURES))
def test_live_and_published_counts(name):
    params, madds, pub_params, pub_madds = FIGURES[name]
    c = measure(name)
    assert c.params == params
    assert round(c.mult_adds / 1e6, 2) == madds
    assert c.published_params == pub_params
    assert round(c.published_mult_adds / 1e6, 2) == pub_madds
    assert c.dead_params == DEAD_PARAMS[name]


@pytest.mark.parametrize('name,total', [('relativenas_cifar10', 4_404_648), ('relativenas_cifar100', 4_525_788),
                                        ('relativenas', 6_306_709)])
def test_published_totals_with_auxiliary_head(name, total):
    m = timm.create_model(name, auxiliary=True, prune_unused=False)
    assert count_params(m, include_aux=True) == total


def test_imagenet_aux_head_has_no_bn_after_2x2_conv():
    m = timm.create_model('relativenas', auxiliary=True)
    kinds = [type(x).__name__ for x in m.auxiliary_head.features]
    assert kinds == ['ReLU', 'AvgPool2d', 'Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d', 'ReLU']
    cifar = timm.create_model('relativenas_cifar10', auxiliary=True)
    assert type(cifar.auxiliary_head.features[6]).__name__ == 'BatchNorm2d'
