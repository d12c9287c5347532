"""NYU and KITTI file lists share one parser (ZoeFileListDepthDataset):
what each list demands and the one-line errors naming file and line."""
import pytest

from mmzoe.datasets import NYUEigenDataset, ZoeKITTIDataset


def _write(tmp_path, text):
    path = tmp_path / 'list.txt'
    path.write_text(text)
    return str(path)


def test_lines_parse_into_data_infos(tmp_path):
    text = 'a/rgb.png a/d.png 518.8\nb/rgb.png None 518.8\n\n'
    nyu = NYUEigenDataset(_write(tmp_path, text), data_root=str(tmp_path),
                          data_prefix=dict(img_path='i', depth_map_path='d'),
                          test_mode=True)
    assert len(nyu) == 2
    info = nyu.get_data_info(0)
    assert info['img_path'].endswith('i/a/rgb.png')
    assert info['depth_map_path'].endswith('d/a/d.png')
    assert info['focal'] == 518.8 and 'domain' not in info
    assert nyu.get_data_info(1)['depth_map_path'] is None
    kitti = ZoeKITTIDataset(_write(tmp_path, text), test_mode=False)
    assert len(kitti) == 1  # no depth: skipped for training
    assert kitti.get_data_info(0)['domain'] == 'kitti'
    assert kitti.depth_scale == 256.0 and nyu.depth_scale == 1000.0
    # NYU's focal column is optional, KITTI's is not
    assert 'focal' not in NYUEigenDataset(
        _write(tmp_path, 'a.png b.png\n')).get_data_info(0)
    with pytest.raises(ValueError,
                       match=r'list.txt:1: expected "rgb_path depth_path '
                       r'focal", got \'a.png b.png\''):
        ZoeKITTIDataset(_write(tmp_path, 'a.png b.png\n'))


@pytest.mark.parametrize('cls,name', [(NYUEigenDataset, 'NYU'),
                                      (ZoeKITTIDataset, 'KITTI')])
def test_bad_lists_name_the_file(tmp_path, cls, name):
    with pytest.raises(FileNotFoundError,
                       match=f'missing.txt: {name} file list not found'):
        cls(str(tmp_path / 'missing.txt'))
    with pytest.raises(ValueError, match=r"list.txt:2: focal 'x' is not a"):
        cls(_write(tmp_path, 'a.png b.png 1\nc.png d.png x\n'))
    with pytest.raises(ValueError, match='no usable line'):
        cls(_write(tmp_path, 'a.png None 1\n'))
    with pytest.raises(ValueError, match='depth_scale must be > 0'):
        cls(_write(tmp_path, 'a.png b.png 1\n'), depth_scale=0)
    if name == 'NYU':
        with pytest.raises(ValueError, match=r'expected "rgb_path '
                           r'depth_path \[focal\]"'):
            cls(_write(tmp_path, 'lonely.png\n'))
