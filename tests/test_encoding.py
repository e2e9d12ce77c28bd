import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relnas_zoo.encoding import NUM_VARIABLES, bounds, decode, encode, random_vector
from relnas_zoo.genotypes import DARTS_V1, DARTS_V2, OPS, RELATIVENAS, Genotype, GenotypeError


def test_bounds_follow_table_1():
    lo, hi = bounds()
    assert NUM_VARIABLES == 32
    assert (lo == 0).all()
    # node k: pre1 in [0, k+2), op1 in [0, 7), pre2, op2
    expected_cell = [2, 7, 2, 7, 3, 7, 3, 7, 4, 7, 4, 7, 5, 7, 5, 7]
    assert hi.tolist() == expected_cell * 2


def test_decode_takes_integer_part_and_upper_bound_maps_to_last():
    lo, hi = bounds()
    g = decode(hi)  # every variable at its upper bound
    for k in range(4):
        for j in range(2):
            assert g.normal[2 * k + j] == (OPS[-1], k + 1)
            assert g.reduce[2 * k + j] == (OPS[-1], k + 1)
    g0 = decode(lo + 0.999)
    assert all(e == (OPS[0], 0) for e in g0.normal + g0.reduce)


@st.composite
def genotypes(draw):
    cells = []
    for _ in range(2):
        edges = []
        for k in range(4):
            for _j in range(2):
                edges.append((draw(st.sampled_from(OPS)), draw(st.integers(0, k + 1))))
        cells.append(edges)
    return Genotype(normal=cells[0], reduce=cells[1])


@settings(max_examples=200, deadline=None)
@given(genotypes())
def test_decode_of_encode_is_identity(g):
    assert decode(encode(g)) == g


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_random_vectors_decode_to_valid_genotypes(seed):
    v = random_vector(np.random.default_rng(seed))
    lo, hi = bounds()
    assert ((v >= lo) & (v <= hi)).all()
    g = decode(v)
    assert decode(encode(g)) == g


@pytest.mark.parametrize('g', [RELATIVENAS, DARTS_V1, DARTS_V2])
def test_published_genotypes_round_trip(g):
    assert decode(encode(g)) == g


def test_bad_vectors():
    with pytest.raises(GenotypeError, match='32 variables, got 31'):
        decode(np.zeros(31))
    v = np.zeros(32)
    v[3] = np.nan
    with pytest.raises(GenotypeError, match='non-finite'):
        decode(v)
