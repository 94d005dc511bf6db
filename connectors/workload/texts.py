"""Vietnamese free text for dossiers: applicants, reasons, processing steps and units."""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from typing import Any

from connectors.workload.rand import between, pick

__all__ = [
    "INTAKE_REFUSALS",
    "STEPS",
    "SUPPLEMENT_REASONS",
    "SUSPENSION_REASONS",
    "WITHDRAWAL_REASONS",
    "applicant",
    "units_for",
]

# (family name, weight %) — the usual distribution of Vietnamese surnames.
_FAMILY = (
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Phan", 4),
    ("Vũ", 4),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 1),
    ("Ngô", 1),
    ("Dương", 1),
    ("Lý", 1),
    ("Ma", 1),
    ("Nông", 1),
    ("Hà", 1),
    ("Triệu", 1),
)
_FAMILY_NAMES = tuple(name for name, _ in _FAMILY)
_FAMILY_CUM = tuple(sum(w for _, w in _FAMILY[: i + 1]) for i in range(len(_FAMILY)))
_MIDDLE_MALE = ("Văn", "Đức", "Hữu", "Minh", "Quốc", "Xuân", "Thanh", "Công", "Ngọc")
_MIDDLE_FEMALE = ("Thị", "Thu", "Ngọc", "Thanh", "Minh", "Hồng", "Phương", "Kim")
_GIVEN_MALE = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Đạt",
    "Giang",
    "Hải",
    "Hiếu",
    "Hùng",
    "Khánh",
    "Long",
    "Minh",
    "Nam",
    "Phong",
    "Phúc",
    "Quang",
    "Quân",
    "Sơn",
    "Thắng",
    "Trung",
    "Tuấn",
    "Tùng",
    "Việt",
    "Vinh",
)
_GIVEN_FEMALE = (
    "Anh",
    "Chi",
    "Dung",
    "Hà",
    "Hạnh",
    "Hoa",
    "Hương",
    "Lan",
    "Linh",
    "Mai",
    "Nga",
    "Ngọc",
    "Nhung",
    "Oanh",
    "Phương",
    "Tâm",
    "Thảo",
    "Thủy",
    "Trang",
    "Vân",
    "Yến",
    "Hằng",
)
_FIRM_FORMS = ("Công ty TNHH", "Công ty Cổ phần", "Hợp tác xã", "Doanh nghiệp tư nhân")
_FIRM_WORDS = (
    "Thành Đạt",
    "Phú Gia",
    "Hưng Thịnh",
    "An Phát",
    "Minh Long",
    "Sao Việt",
    "Tân Tiến",
    "Hoàng Long",
    "Bình Minh",
    "Đại Nam",
    "Xuân Thành",
    "Trường Sơn",
    "Kim Ngân",
    "Việt Hà",
)
_FIRM_TRADES = (
    "Xây dựng",
    "Thương mại và Dịch vụ",
    "Vận tải",
    "Nông sản",
    "Chế biến gỗ",
    "Du lịch",
    "Dược phẩm",
    "Công nghệ",
    "Khoáng sản",
    "Thực phẩm",
)
_ORGANISATIONS = (
    "Trường Tiểu học",
    "Hội Nông dân xã",
    "Chùa",
    "Hội Cựu chiến binh xã",
    "Trường Mầm non",
    "Hội Liên hiệp Phụ nữ xã",
)
_STATE_AGENCIES = ("Ủy ban nhân dân xã", "Trung tâm Y tế huyện", "Ban Quản lý dự án")
_MAIL = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "icloud.com")
_MOBILE = (
    "086",
    "096",
    "097",
    "098",
    "032",
    "033",
    "034",
    "035",
    "037",
    "038",
    "039",
    "088",
    "091",
    "094",
    "083",
    "085",
    "070",
    "076",
    "077",
    "078",
    "079",
    "056",
    "058",
)

INTAKE_REFUSALS = (
    "Hồ sơ không thuộc thẩm quyền giải quyết",
    "Thành phần hồ sơ không đầy đủ theo quy định",
    "Thông tin kê khai trong tờ khai không chính xác",
    "Giấy tờ đính kèm không rõ nét, không đọc được",
    "Hồ sơ nộp trùng",
)
SUPPLEMENT_REASONS = (
    "Bổ sung bản sao có chứng thực giấy tờ tùy thân",
    "Bổ sung văn bản xác nhận của cơ quan có thẩm quyền",
    "Điều chỉnh thông tin trong tờ khai cho thống nhất với giấy tờ",
    "Bổ sung bản vẽ, sơ đồ theo yêu cầu",
    "Bổ sung giấy ủy quyền hợp lệ",
)
SUSPENSION_REASONS = (
    "Chờ kết quả xác minh của cơ quan liên quan",
    "Có tranh chấp, khiếu nại liên quan đến hồ sơ",
    "Chờ ý kiến thẩm định của cơ quan chuyên môn",
    "Tạm dừng theo đề nghị của người nộp hồ sơ",
)
WITHDRAWAL_REASONS = (
    "Người nộp hồ sơ xin rút để bổ sung, hoàn thiện",
    "Không còn nhu cầu giải quyết",
    "Nộp nhầm thủ tục",
    "Quá thời hạn bổ sung hồ sơ nhưng không bổ sung",
)
STEPS = (
    "Tiếp nhận hồ sơ",
    "Phân công thụ lý",
    "Thẩm định hồ sơ",
    "Xác minh thực địa",
    "Lấy ý kiến cơ quan liên quan",
    "Dự thảo kết quả",
    "Trình lãnh đạo phòng",
    "Trình lãnh đạo đơn vị",
    "Ký duyệt",
    "Vào sổ, đóng dấu",
    "Chuyển trả kết quả",
)
_DEPARTMENT_UNITS = (
    "Văn phòng",
    "Phòng chuyên môn",
    "Lãnh đạo phòng",
    "Lãnh đạo Sở",
    "Bộ phận văn thư",
    "Bộ phận Một cửa",
)
_COMMUNE_UNITS = (
    "Công chức Tư pháp - Hộ tịch",
    "Công chức Địa chính - Xây dựng",
    "Công chức Văn hóa - Xã hội",
    "Lãnh đạo Ủy ban nhân dân xã",
    "Bộ phận Một cửa",
)


def units_for(commune: bool) -> tuple[str, ...]:
    """The units a dossier moves between at a commune or at a provincial agency."""
    return _COMMUNE_UNITS if commune else _DEPARTMENT_UNITS


@lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    stripped = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in stripped if c.isascii() and c.isalnum()).lower()


def _person(rng: random.Random) -> tuple[str, str, int]:
    """(full name, e-mail local part, year of birth)."""
    family = _FAMILY_NAMES[bisect_right(_FAMILY_CUM, rng.random() * _FAMILY_CUM[-1])]
    if rng.random() < 0.5:
        middle, given = pick(rng, _MIDDLE_MALE), pick(rng, _GIVEN_MALE)
    else:
        middle, given = pick(rng, _MIDDLE_FEMALE), pick(rng, _GIVEN_FEMALE)
    born = between(rng, 1950, 2006)
    local = f"{_ascii(given)}{_ascii(family)}{born % 100:02d}"
    return f"{family} {middle} {given}", local, born


def _citizen_id(rng: random.Random, born: int) -> str:
    """A 12-digit citizen identity number: province, century/sex, year, serial."""
    century = (0 if born < 2000 else 2) + between(rng, 0, 1)
    return f"0{between(rng, 1, 96):02d}{century}{born % 100:02d}{between(rng, 0, 999_999):06d}"


def applicant(rng: random.Random, kind: str, online: bool) -> dict[str, Any]:
    """An applicant record (chủ hồ sơ) of the given ApplicantKind."""
    name, local, born = _person(rng)
    phone: str | None = pick(rng, _MOBILE) + f"{between(rng, 0, 9_999_999):07d}"
    id_number: str | None = _citizen_id(rng, born)
    email: str | None = f"{local}@{pick(rng, _MAIL)}"
    if kind == "BUSINESS":
        words = pick(rng, _FIRM_WORDS)
        name = f"{pick(rng, _FIRM_FORMS)} {pick(rng, _FIRM_TRADES)} {words}"
        id_number = f"{between(rng, 10, 65):02d}{between(rng, 0, 99_999_999):08d}"
        email = f"info@{_ascii(words)}.vn"
    elif kind in ("ORGANISATION", "STATE_AGENCY"):
        pool = _ORGANISATIONS if kind == "ORGANISATION" else _STATE_AGENCIES
        name = f"{pick(rng, pool)} {pick(rng, _FIRM_WORDS)}"
        id_number = None
        email = None if rng.random() < 0.6 else f"vanthu.{_ascii(name)[-12:]}@gov.vn"
    elif not online and rng.random() < 0.6:
        email = None
    if email is not None and online is False and rng.random() < 0.2:
        email = None
    if not online and rng.random() < 0.05:
        phone = None
    return {"kind": kind, "name": name, "id_number": id_number, "phone": phone, "email": email}
