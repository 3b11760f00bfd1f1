"""Thai given names, family names and school names (lists written for this project).

Every string here is encodable in windows-874 (cp874): DLA schools deliver in that encoding.
"""

from __future__ import annotations

import random

MALE = (
    "สมชาย", "สมศักดิ์", "ธนากร", "ณัฐพล", "กิตติพงษ์", "วีรภัทร", "ภูมิพัฒน์", "ธีรเดช", "อนุชา",
    "ศุภชัย", "พงศกร", "ชยพล", "ปิยะพงษ์", "ธนวัฒน์", "กฤษดา", "สุรเชษฐ์", "ภานุวัฒน์", "วรเมธ",
    "อภิสิทธิ์", "ณัฐวุฒิ", "จิรายุ", "ปกรณ์", "ศักดิ์ชัย", "บุญมา", "ทองดี", "ประเสริฐ", "เอกชัย",
    "ก้องภพ", "ธนภัทร", "พีรพัฒน์", "ภูริช", "ชนาธิป", "ศิวกร", "รัชพล", "นนทวัฒน์", "ตะวัน",
)
FEMALE = (
    "สมหญิง", "มาลี", "ณัฐธิดา", "กมลชนก", "พิมพ์ชนก", "ปิยะนุช", "สุภาวดี", "ชนิดา", "วรรณา",
    "ศิริพร", "อรอุมา", "จิราพร", "กัญญารัตน์", "ธิดารัตน์", "นภัสสร", "พรทิพย์", "รัตนา", "สุนิสา",
    "อัญชลี", "เบญจวรรณ", "ปวีณา", "ณิชา", "ภัทรา", "ขวัญใจ", "บุษบา", "ดวงใจ", "น้ำฝน", "แก้วตา",
    "ธนพร", "พิชชาพร", "ศศิธร", "ชุติมา", "อารีรัตน์", "มณีรัตน์", "ลลิตา", "ปาริชาต",
)
# Family names are built from two parts, as many real ones are.
SURNAME_HEAD = (
    "ศรี", "แก้ว", "ทอง", "บุญ", "สุข", "จันทร์", "วงศ์", "ใจ", "พรหม", "เพชร", "รัตน", "คำ",
    "มณี", "ชัย", "ศักดิ์", "สิทธิ", "อินทร์", "พันธ์", "เจริญ", "ประเสริฐ",
)
SURNAME_TAIL = (
    "สุข", "วงศ์", "ดี", "ทอง", "ชัย", "ศรี", "เจริญ", "พันธ์", "รักษ์", "สวัสดิ์", "มั่น", "งาม",
    "ประเสริฐ", "กุล", "วิไล", "ธรรม", "บุตร", "สมบูรณ์", "แสง", "คำ",
)
# Names of migrant children (Myanmar/Karen, Khmer, Lao) as Thai schools write them.
MIGRANT_MALE = ("หม่อง", "ซอ", "จอ", "ส่า", "โซ", "ทูน", "เอ", "วิน")
MIGRANT_FEMALE = ("มะ", "นอ", "เอ", "ซู", "หน่อ", "มี", "ขิ่น", "เท")
MIGRANT_LAST = ("ทุน", "อู", "ลวิน", "ทัน", "หม่อง", "ซอ", "เต็ง", "จ่อ", "โพ", "สาย")

# Private (OPEC) school names: some contain a comma or quotes, to exercise RFC 4180 quoting.
PRIVATE = (
    "โรงเรียนอนุบาล \"ดวงใจ\" {place}",
    "โรงเรียนเซนต์ยอห์น, {place}",
    "โรงเรียนสาธิตพัฒนา {place}",
    "โรงเรียน \"บ้านเด็กดี\", {place}",
    "โรงเรียนมารีย์วิทยา {place}",
)


def person_name(rng: random.Random, sex: str, migrant: bool = False) -> tuple[str, str]:
    if migrant:
        first = rng.choice(MIGRANT_MALE if sex == "M" else MIGRANT_FEMALE) + rng.choice(MIGRANT_LAST)
        return first, rng.choice(MIGRANT_LAST)
    first = rng.choice(MALE if sex == "M" else FEMALE)
    return first, rng.choice(SURNAME_HEAD) + rng.choice(SURNAME_TAIL)


def school_name(affiliation: str, kind: str, place: str, district: str, province: str, n: int) -> str:
    """A Thai school name. `place` is the subdistrict name."""
    if affiliation == "DLA":
        return f"โรงเรียนเทศบาล {n} ({place})"
    if affiliation == "BPP":
        return f"โรงเรียนตำรวจตระเวนชายแดนบ้าน{place}"
    if affiliation == "OPEC":
        return PRIVATE[(n + len(place)) % len(PRIVATE)].format(place=place)
    if affiliation == "OVEC":
        return f"วิทยาลัยเทคนิค{province}"
    if affiliation == "ONIE":
        return f"ศูนย์ส่งเสริมการเรียนรู้อำเภอ{district.removeprefix('อำเภอ')}"
    if kind == "secondary":
        return f"โรงเรียน{district.removeprefix('เขต')}วิทยา"
    return f"โรงเรียนบ้าน{place}"
