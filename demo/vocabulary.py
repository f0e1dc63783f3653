"""The words the demo data is made of: 金华's districts and counties with streets and roads,
hospitals, schools, surnames weighted by frequency, given-name characters, and the words of
business names. Plausible, not a register of real people, addresses or organisations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    """A district or county of 金华市 (GB/T 2260 code) and the places used in addresses."""

    code: str
    name: str
    weight: int  # roughly its population, in 10,000s
    streets: tuple[str, ...]
    roads: tuple[str, ...]
    hospital: str
    industry: str  # what its businesses typically make or trade

    @property
    def address_prefix(self) -> str:
        """浙江省金华市婺城区 for a district of the city, 浙江省义乌市 for a county or county-level city."""
        return f"浙江省金华市{self.name}" if self.name.endswith("区") else f"浙江省{self.name}"


DISTRICTS: tuple[District, ...] = (
    District("330702", "婺城区", 90, ("城中街道", "城东街道", "城西街道", "城北街道", "江南街道", "西关街道"),
             ("人民西路", "八一南街", "宾虹路", "婺江西路", "丹溪路", "李渔路"), "金华市中心医院", "电子科技"),
    District("330703", "金东区", 50, ("多湖街道", "东孝街道", "孝顺镇"),
             ("光南路", "金港大道", "丹溪东路", "东关路"), "金华市人民医院", "新能源配件"),
    District("330723", "武义县", 47, ("壶山街道", "白洋街道", "熟溪街道"),
             ("壶山上街", "解放街", "熟溪路", "温泉北路"), "武义县第一人民医院", "温泉旅游"),
    District("330726", "浦江县", 46, ("浦阳街道", "仙华街道", "浦南街道"),
             ("人民东路", "和平路", "恒昌大道", "前方路"), "浦江县人民医院", "水晶制品"),
    District("330727", "磐安县", 18, ("安文街道", "新渥街道"),
             ("花溪路", "海螺街", "新城路"), "磐安县人民医院", "中药材"),
    District("330781", "兰溪市", 57, ("兰江街道", "云山街道", "上华街道"),
             ("丹溪大道", "兰荫路", "振兴路", "桃花坞路"), "兰溪市人民医院", "纺织"),
    District("330782", "义乌市", 188, ("稠城街道", "北苑街道", "稠江街道", "江东街道", "福田街道"),
             ("工人北路", "宾王路", "城中中路", "福田路", "稠州北路", "江滨北路"), "义乌市妇幼保健院", "小商品贸易"),
    District("330783", "东阳市", 109, ("吴宁街道", "白云街道", "江北街道"),
             ("吴宁西路", "人民路", "江滨南街", "世贸大道"), "东阳市人民医院", "红木家具"),
    District("330784", "永康市", 96, ("东城街道", "西城街道", "江南街道"),
             ("华丰路", "总部中心路", "九铃东路", "金城路"), "永康市第一人民医院", "五金制品"),
)

CITY_REGION = "330700"
"""金华市: the search scope of the real-estate registry."""

MIGRANT_REGIONS: tuple[tuple[str, str], ...] = (
    ("360121", "江西省南昌县"),
    ("341221", "安徽省临泉县"),
    ("411522", "河南省光山县"),
    ("510722", "四川省三台县"),
)
"""Where the migrants among the demo residents were born and are registered (GB/T 2260)."""

# Surnames and their approximate share (per mille) of the population; 楼, 应, 傅 and 诸葛
# are characteristic of 金华 (诸葛八卦村 is in 兰溪).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 71), ("李", 70), ("张", 69), ("刘", 54), ("陈", 60), ("杨", 31), ("黄", 22), ("赵", 20),
    ("吴", 22), ("周", 20), ("徐", 16), ("孙", 12), ("马", 11), ("朱", 12), ("胡", 12), ("郭", 9),
    ("何", 9), ("林", 8), ("高", 8), ("罗", 7), ("郑", 8), ("梁", 6), ("谢", 5), ("宋", 5),
    ("唐", 5), ("许", 5), ("韩", 4), ("冯", 4), ("邓", 4), ("曹", 4), ("彭", 3), ("曾", 3),
    ("肖", 3), ("田", 3), ("董", 3), ("潘", 4), ("袁", 3), ("蔡", 3), ("蒋", 4), ("余", 3),
    ("于", 3), ("杜", 3), ("叶", 5), ("程", 3), ("魏", 2), ("苏", 2), ("吕", 3), ("丁", 2),
    ("任", 2), ("卢", 2), ("楼", 4), ("应", 3), ("金", 3), ("方", 3), ("傅", 3), ("邵", 2),
    ("施", 2), ("骆", 2), ("欧阳", 0.5), ("诸葛", 0.3),
)

GIVEN_MALE = tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林峰建国志文晨轩睿博泽皓逸航锋军荣")
GIVEN_FEMALE = tuple("芳娜敏静丽艳娟霞秀英玲婷雪慧颖琳洁倩萍红燕晶梅欣怡悦琪涵萱诗雨彤馨佳蕾瑶妍蓉珍")
GIVEN_ANY = tuple("子一佳嘉思梓欣晓雨明文海金春新永")

HOSPITALS_SECONDARY = ("金华市妇幼保健院", "浙江大学医学院附属第四医院", "金华广福医院")

UNIVERSITIES: tuple[tuple[str, str], ...] = (
    ("10345", "浙江师范大学"), ("10335", "浙江大学"), ("10337", "浙江工业大学"), ("10353", "浙江工商大学"),
    ("10336", "杭州电子科技大学"), ("11646", "宁波大学"), ("10347", "浙江财经大学"), ("10272", "上海财经大学"),
    ("10284", "南京大学"), ("10248", "上海交通大学"),
)
COLLEGES: tuple[tuple[str, str], ...] = (
    ("12061", "金华职业技术大学"), ("12790", "义乌工商职业技术学院"), ("13027", "浙江广厦建设职业技术大学"),
    ("12862", "浙江经贸职业技术学院"),
)
MAJORS = ("汉语言文学", "计算机科学与技术", "会计学", "国际经济与贸易", "机械设计制造及其自动化", "护理学",
          "小学教育", "电子商务", "土木工程", "临床医学", "市场营销", "英语", "学前教育", "软件工程")

VACCINES = ("乙肝疫苗第3剂", "脊灰疫苗第4剂", "百白破疫苗第4剂", "麻腮风疫苗第2剂", "乙脑减毒活疫苗第2剂",
            "A群C群流脑多糖疫苗第2剂", "甲肝减毒活疫苗", "白破疫苗")

BRAND_WORDS = tuple("恒达 鑫源 华联 宏伟 永盛 金盛 天成 博远 聚丰 锦程 新辰 嘉禾 瑞丰 晨光 汇通 泰和 佳禾 东顺 合力 立信".split())
