"""Static reference data for a Vietnamese province: sectors, agencies, procedure vocabulary.

Plain tuples and dicts, no behaviour. Sector codes are the generator's own (``G01``...);
the names are the sector names used in provincial catalogues.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "COMMUNE_SHARE",
    "COMMUNE_WORDS",
    "DEPARTMENTS",
    "DOCUMENTS",
    "FEES",
    "LEGAL_BASES",
    "OBJECTS",
    "ONE_STOP_DECREE",
    "SECTORS",
    "SECTOR_SIZE",
    "VERTICALS",
]

SECTORS: tuple[tuple[str, str], ...] = (
    ("G01", "Công thương"),
    ("G02", "Giao thông vận tải"),
    ("G03", "Giáo dục và Đào tạo"),
    ("G04", "Khoa học và Công nghệ"),
    ("G05", "Lao động - Thương binh và Xã hội"),
    ("G06", "Ngoại vụ"),
    ("G07", "Nông nghiệp và Phát triển nông thôn"),
    ("G08", "Nội vụ"),
    ("G09", "Tài chính"),
    ("G10", "Tài nguyên và Môi trường"),
    ("G11", "Tư pháp"),
    ("G12", "Văn hóa, Thể thao và Du lịch"),
    ("G13", "Y tế"),
    ("G14", "Quản lý các khu công nghiệp"),
    ("G15", "Kế hoạch và Đầu tư"),
    ("G16", "Xây dựng"),
    ("G17", "Thông tin và Truyền thông"),
    ("G18", "Giải quyết khiếu nại, tố cáo"),
    ("G19", "Đăng ký, quản lý cư trú"),
    ("G20", "Bảo hiểm xã hội"),
)

# fmt: off
# Relative number of procedures per sector in a typical provincial catalogue.
SECTOR_SIZE: dict[str, int] = {
    "G01": 130, "G02": 150, "G03": 100, "G04": 60, "G05": 120, "G06": 6, "G07": 130, "G08": 90,
    "G09": 40, "G10": 150, "G11": 150, "G12": 140, "G13": 150, "G14": 50, "G15": 120, "G16": 60,
    "G17": 45, "G18": 12, "G19": 30, "G20": 30,
}

# Share of a sector's procedures handled at commune level.
COMMUNE_SHARE: dict[str, float] = {
    "G03": 0.15, "G05": 0.3, "G07": 0.2, "G08": 0.2, "G10": 0.15, "G11": 0.4, "G12": 0.15,
    "G13": 0.05, "G16": 0.1, "G18": 0.3, "G19": 0.45,
}

# Departments in the order of their codes (H56.01, H56.02, ...) with the sectors they own.
DEPARTMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Văn phòng Ủy ban nhân dân tỉnh", ()),
    ("Sở Nội vụ", ("G08",)),
    ("Sở Tư pháp", ("G11",)),
    ("Sở Kế hoạch và Đầu tư", ("G15",)),
    ("Sở Tài chính", ("G09",)),
    ("Sở Công Thương", ("G01",)),
    ("Sở Nông nghiệp và Phát triển nông thôn", ("G07",)),
    ("Sở Giao thông vận tải", ("G02",)),
    ("Sở Xây dựng", ("G16",)),
    ("Sở Tài nguyên và Môi trường", ("G10",)),
    ("Sở Thông tin và Truyền thông", ("G17",)),
    ("Sở Lao động - Thương binh và Xã hội", ("G05",)),
    ("Sở Văn hóa, Thể thao và Du lịch", ("G12",)),
    ("Sở Khoa học và Công nghệ", ("G04",)),
    ("Sở Giáo dục và Đào tạo", ("G03",)),
    ("Sở Y tế", ("G13",)),
    ("Thanh tra tỉnh", ("G18",)),
    ("Sở Ngoại vụ", ("G06",)),
    ("Ban Quản lý các khu công nghiệp", ("G14",)),
    ("Ban Dân tộc", ()),
)

# Central agencies with provincial branches (AgencyKind VERTICAL), with their sectors.
VERTICALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Công an tỉnh", ("G19",)),
    ("Bảo hiểm xã hội tỉnh", ("G20",)),
    ("Cục Thuế tỉnh", ()),
)

COMMUNE_WORDS: tuple[str, ...] = (
    "An", "Bình", "Châu", "Đông", "Đức", "Hà", "Hạ", "Hòa", "Hồng", "Hợp", "Hưng", "Khánh",
    "Kim", "Lâm", "Lộc", "Lợi", "Long", "Minh", "Mỹ", "Nam", "Nghĩa", "Ninh", "Phong", "Phú",
    "Phúc", "Quang", "Sơn", "Tân", "Tây", "Thái", "Thanh", "Thành", "Thắng", "Thịnh", "Thượng",
    "Thủy", "Tiến", "Trung", "Vĩnh", "Xuân", "Yên", "Hiệp", "Bắc", "Cường",
)

ACTIONS: tuple[str, ...] = (
    "Cấp", "Cấp lại", "Cấp đổi", "Điều chỉnh", "Gia hạn", "Đăng ký", "Thẩm định", "Công nhận",
    "Xác nhận", "Thông báo", "Phê duyệt", "Chấp thuận",
)

# What a sector's procedures act upon; combined with ACTIONS into procedure names.
OBJECTS: dict[str, tuple[str, ...]] = {
    "G01": (
        "Giấy phép kinh doanh rượu", "Giấy chứng nhận đủ điều kiện kinh doanh xăng dầu",
        "Giấy phép bán lẻ sản phẩm thuốc lá", "Giấy xác nhận ưu đãi dự án sản xuất",
        "Giấy phép hoạt động điện lực", "Giấy chứng nhận xuất xứ hàng hóa",
    ),
    "G02": (
        "Giấy phép lái xe", "Giấy phép kinh doanh vận tải bằng xe ô tô",
        "phù hiệu xe ô tô kinh doanh vận tải", "Giấy phép thi công công trình đường bộ",
        "đăng ký phương tiện thủy nội địa", "Giấy phép xe tập lái",
    ),
    "G03": (
        "bằng tốt nghiệp trung học phổ thông", "Giấy phép hoạt động giáo dục",
        "trường mầm non tư thục", "Giấy chứng nhận trung tâm ngoại ngữ, tin học",
        "bản sao văn bằng, chứng chỉ từ sổ gốc", "hoạt động dạy thêm, học thêm",
    ),
    "G04": (
        "Giấy chứng nhận đăng ký hoạt động khoa học và công nghệ",
        "Giấy phép tiến hành công việc bức xạ", "Giấy chứng nhận doanh nghiệp khoa học",
        "kết quả thực hiện nhiệm vụ khoa học", "chứng chỉ nhân viên bức xạ",
    ),
    "G05": (
        "trợ cấp xã hội hằng tháng", "Giấy phép hoạt động dịch vụ việc làm",
        "hỗ trợ chi phí mai táng", "chế độ ưu đãi người có công với cách mạng",
        "Giấy phép lao động cho người nước ngoài", "trợ cấp thất nghiệp",
    ),
    "G06": (
        "việc tổ chức hội nghị, hội thảo quốc tế", "hộ chiếu công vụ",
        "việc cho phép sử dụng thẻ đi lại doanh nhân APEC",
    ),
    "G07": (
        "Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
        "Giấy chứng nhận kiểm dịch động vật", "Giấy phép khai thác thủy sản",
        "hồ sơ hỗ trợ phát triển sản xuất nông nghiệp", "Giấy chứng nhận trang trại",
        "Giấy phép vận chuyển lâm sản",
    ),
    "G08": (
        "thành lập hội", "điều lệ hội", "Giấy chứng nhận đăng ký hoạt động tôn giáo",
        "việc tặng Bằng khen của Chủ tịch Ủy ban nhân dân tỉnh", "xếp hạng viên chức",
        "hoạt động tín ngưỡng",
    ),
    "G09": (
        "giá đất cụ thể", "quyết toán vốn đầu tư dự án hoàn thành",
        "mã số đơn vị có quan hệ với ngân sách", "giá dịch vụ công",
        "việc mua sắm tài sản công",
    ),
    "G10": (
        "Giấy chứng nhận quyền sử dụng đất", "biến động đất đai",
        "Giấy phép khai thác khoáng sản", "Giấy phép môi trường",
        "Giấy phép khai thác, sử dụng nước mặt", "chuyển mục đích sử dụng đất",
        "báo cáo đánh giá tác động môi trường",
    ),
    "G11": (
        "khai sinh", "kết hôn", "khai tử", "bản sao từ bản chính", "chữ ký",
        "tình trạng hôn nhân", "Phiếu lý lịch tư pháp", "thay đổi, cải chính hộ tịch",
        "Chứng chỉ hành nghề luật sư", "hợp đồng, giao dịch",
    ),
    "G12": (
        "Giấy phép kinh doanh karaoke", "hạng cơ sở lưu trú du lịch",
        "Giấy phép tổ chức lễ hội", "danh hiệu Gia đình văn hóa",
        "Giấy chứng nhận đủ điều kiện kinh doanh hoạt động thể thao",
        "thẻ hướng dẫn viên du lịch",
    ),
    "G13": (
        "Chứng chỉ hành nghề khám bệnh, chữa bệnh", "Giấy phép hoạt động khám bệnh",
        "Giấy chứng nhận đủ điều kiện kinh doanh dược", "Chứng chỉ hành nghề dược",
        "Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", "giám định y khoa",
    ),
    "G14": (
        "Giấy chứng nhận đăng ký đầu tư trong khu công nghiệp",
        "Giấy phép xây dựng trong khu công nghiệp", "Giấy phép lao động", "nội quy lao động",
    ),
    "G15": (
        "Giấy chứng nhận đăng ký doanh nghiệp", "Giấy chứng nhận đăng ký đầu tư",
        "chủ trương đầu tư", "hộ kinh doanh", "thay đổi nội dung đăng ký doanh nghiệp",
        "hợp tác xã",
    ),
    "G16": (
        "Giấy phép xây dựng", "Chứng chỉ hành nghề hoạt động xây dựng", "thiết kế cơ sở",
        "nhà ở xã hội", "Chứng chỉ năng lực hoạt động xây dựng",
    ),
    "G17": (
        "Giấy phép xuất bản bản tin", "Giấy phép hoạt động in",
        "Giấy phép thiết lập trang thông tin điện tử tổng hợp", "đại lý trò chơi điện tử",
    ),
    "G18": (
        "khiếu nại lần đầu", "khiếu nại lần hai", "tố cáo", "tiếp công dân",
    ),
    "G19": (
        "thường trú", "tạm trú", "thông báo lưu trú", "xóa đăng ký thường trú",
        "xác nhận thông tin về cư trú",
    ),
    "G20": (
        "thẻ bảo hiểm y tế", "sổ bảo hiểm xã hội", "chế độ thai sản", "chế độ hưu trí",
        "bảo hiểm xã hội tự nguyện",
    ),
}

LEGAL_BASES: dict[str, tuple[str, ...]] = {
    "G01": (
        "Luật Thương mại số 36/2005/QH11", "Nghị định số 105/2017/NĐ-CP",
        "Nghị định số 83/2014/NĐ-CP",
    ),
    "G02": (
        "Luật Giao thông đường bộ số 23/2008/QH12", "Nghị định số 10/2020/NĐ-CP",
        "Thông tư số 12/2017/TT-BGTVT",
    ),
    "G03": (
        "Luật Giáo dục số 43/2019/QH14", "Nghị định số 46/2017/NĐ-CP",
    ),
    "G04": (
        "Luật Khoa học và Công nghệ số 29/2013/QH13", "Nghị định số 08/2014/NĐ-CP",
    ),
    "G05": (
        "Bộ luật Lao động số 45/2019/QH14", "Nghị định số 20/2021/NĐ-CP",
        "Pháp lệnh Ưu đãi người có công với cách mạng số 02/2020/UBTVQH14",
    ),
    "G06": (
        "Quyết định số 06/2020/QĐ-TTg",
    ),
    "G07": (
        "Luật Chăn nuôi số 32/2018/QH14", "Luật Thủy sản số 18/2017/QH14",
        "Nghị định số 15/2018/NĐ-CP",
    ),
    "G08": (
        "Nghị định số 45/2010/NĐ-CP", "Luật Tín ngưỡng, tôn giáo số 02/2016/QH14",
    ),
    "G09": (
        "Luật Quản lý, sử dụng tài sản công số 15/2017/QH14", "Luật Giá số 16/2023/QH15",
    ),
    "G10": (
        "Luật Đất đai số 31/2024/QH15", "Luật Bảo vệ môi trường số 72/2020/QH14",
        "Nghị định số 101/2024/NĐ-CP",
    ),
    "G11": (
        "Luật Hộ tịch số 60/2014/QH13", "Nghị định số 123/2015/NĐ-CP",
        "Nghị định số 23/2015/NĐ-CP", "Thông tư số 04/2020/TT-BTP",
    ),
    "G12": (
        "Luật Du lịch số 09/2017/QH14", "Nghị định số 54/2019/NĐ-CP",
    ),
    "G13": (
        "Luật Khám bệnh, chữa bệnh số 15/2023/QH15", "Luật Dược số 105/2016/QH13",
        "Nghị định số 54/2017/NĐ-CP",
    ),
    "G14": (
        "Luật Đầu tư số 61/2020/QH14", "Nghị định số 35/2022/NĐ-CP",
    ),
    "G15": (
        "Luật Doanh nghiệp số 59/2020/QH14", "Luật Đầu tư số 61/2020/QH14",
        "Nghị định số 01/2021/NĐ-CP",
    ),
    "G16": (
        "Luật Xây dựng số 50/2014/QH13", "Nghị định số 15/2021/NĐ-CP",
    ),
    "G17": (
        "Luật Báo chí số 103/2016/QH13", "Nghị định số 72/2013/NĐ-CP",
    ),
    "G18": (
        "Luật Khiếu nại số 02/2011/QH13", "Luật Tố cáo số 25/2018/QH14",
    ),
    "G19": (
        "Luật Cư trú số 68/2020/QH14", "Nghị định số 62/2021/NĐ-CP",
    ),
    "G20": (
        "Luật Bảo hiểm xã hội số 58/2014/QH13", "Luật Bảo hiểm y tế số 25/2008/QH12",
    ),
}

ONE_STOP_DECREE = "Nghị định số 61/2018/NĐ-CP"

DOCUMENTS: tuple[str, ...] = (
    "Đơn đề nghị theo mẫu",
    "Tờ khai theo mẫu",
    "Bản sao Căn cước công dân",
    "Giấy ủy quyền (trường hợp ủy quyền)",
    "Bản sao Giấy chứng nhận đăng ký doanh nghiệp",
    "Sơ đồ vị trí",
    "Bản vẽ thiết kế",
    "Báo cáo thuyết minh",
    "Giấy khám sức khỏe",
    "Bản sao văn bằng, chứng chỉ",
    "Hợp đồng thuê địa điểm",
    "Ảnh 4x6 cm",
    "Biên bản kiểm tra điều kiện",
    "Danh sách nhân sự",
    "Văn bản xác nhận của cơ quan liên quan",
)

# Fees and charges (phí, lệ phí) in VND; 0 = free of charge.
FEES: tuple[int, ...] = (
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5_000, 10_000, 20_000, 30_000, 50_000, 50_000, 100_000,
    100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000, 1_200_000, 2_000_000, 3_000_000,
)
# fmt: on
