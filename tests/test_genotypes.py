import json

import pytest

from relnas_zoo.genotypes import (DARTS_V1, DARTS_V2, OPS, RELATIVENAS, Genotype, GenotypeError, load_genotype,
                                  resolve_genotype, save_genotype)


def test_op_order_is_table_1():
    assert OPS == ('max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5',
                   'dil_conv_3x3', 'dil_conv_5x5')


def test_published_relativenas_genotype():
    assert RELATIVENAS.normal == (
        ('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1),
        ('sep_conv_3x3', 1), ('sep_conv_5x5', 1), ('skip_connect', 0), ('sep_conv_3x3', 0))
    assert RELATIVENAS.reduce == (
        ('avg_pool_3x3', 1), ('max_pool_3x3', 1), ('dil_conv_5x5', 1), ('max_pool_3x3', 1),
        ('avg_pool_3x3', 3), ('skip_connect', 1), ('dil_conv_5x5', 3), ('sep_conv_3x3', 1))
    assert RELATIVENAS.normal_concat == RELATIVENAS.reduce_concat == (2, 3, 4, 5)
    # the fact behind the dead weights: the reduction cell never reads input 0
    assert all(src != 0 for _, src in RELATIVENAS.reduce)


def test_darts_genotypes():
    assert DARTS_V2.normal[-1] == ('dil_conv_3x3', 2)
    assert DARTS_V2.reduce[2] == ('skip_connect', 2)
    assert DARTS_V1.reduce[-1] == ('avg_pool_3x3', 0)


@pytest.mark.parametrize('genotype', [RELATIVENAS, DARTS_V1, DARTS_V2])
def test_json_round_trip(tmp_path, genotype):
    path = tmp_path / 'g.json'
    save_genotype(genotype, path)
    back = load_genotype(path)
    assert back == genotype
    assert json.loads(path.read_text())['normal'][0] == list(genotype.normal[0])
    assert resolve_genotype(str(path)) == genotype


def test_resolve_by_name_and_dict():
    assert resolve_genotype('relativenas') is RELATIVENAS
    assert resolve_genotype('DARTS_V2') is DARTS_V2
    assert resolve_genotype(RELATIVENAS.to_dict()) == RELATIVENAS
    with pytest.raises(GenotypeError, match="unknown genotype 'nasnet'"):
        resolve_genotype('nasnet')
    with pytest.raises(GenotypeError, match='does not exist'):
        resolve_genotype('missing/genotype.json')


def _edit(cell, pos, value):
    d = RELATIVENAS.to_dict()
    d[cell][pos] = value
    return d


def test_unknown_op_names_cell_node_and_value():
    with pytest.raises(GenotypeError, match=r"reduce cell, node 3 \(entry 2\): unknown op 'conv_7x7'"):
        Genotype.from_dict(_edit('reduce', 2, ['conv_7x7', 1]))


def test_input_out_of_range_names_allowed_range():
    # node 2 (the first intermediate node) may only read the two cell inputs
    with pytest.raises(GenotypeError, match=r'normal cell, node 2 \(entry 1\): input node 2 is out of range; '
                                            r'this node may read nodes 0\.\.1'):
        Genotype.from_dict(_edit('normal', 1, ['sep_conv_3x3', 2]))
    with pytest.raises(GenotypeError, match='input node -1'):
        Genotype.from_dict(_edit('normal', 7, ['sep_conv_3x3', -1]))


def test_wrong_number_of_entries():
    d = RELATIVENAS.to_dict()
    d['normal'] = d['normal'][:7]
    with pytest.raises(GenotypeError, match='normal cell: expected 8 .* got 7'):
        Genotype.from_dict(d)


@pytest.mark.parametrize('concat,msg', [([], 'concat is empty'), ([2, 6], 'concat entry 6'),
                                         ([1, 2], 'concat entry 1'), ([2, 2], 'repeats')])
def test_bad_concat(concat, msg):
    d = RELATIVENAS.to_dict()
    d['reduce_concat'] = concat
    with pytest.raises(GenotypeError, match=msg):
        Genotype.from_dict(d)


def test_bad_file_contents(tmp_path):
    p = tmp_path / 'bad.json'
    p.write_text('{"normal": [')
    with pytest.raises(GenotypeError, match='not valid JSON'):
        load_genotype(p)
    p.write_text(json.dumps({'normal': [], 'reduce': [], 'extra': 1}))
    with pytest.raises(GenotypeError, match="unknown genotype field"):
        load_genotype(p)
