"""Brand schema: the brand's welcome message (欢迎语)."""

from django.db import models

from members.brand.models import BrandCouponTemplate


class WelcomeMessage(models.Model):
    """What a new customer receives right after adding one of the brand's guides.

    Text plus, optionally, a welcome coupon (issued on the spot) and a mini-program page or link.
    ``{guide}`` and ``{name}`` in the text are replaced by the guide's and the customer's names.
    """

    text = models.TextField("欢迎语 Text", max_length=4000)
    coupon_template = models.ForeignKey(BrandCouponTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                        verbose_name="欢迎券 Welcome coupon")
    miniprogram_appid = models.CharField("小程序AppID Mini-program appid", max_length=40, blank=True)
    miniprogram_page = models.CharField("小程序页面 Mini-program page", max_length=200, blank=True)
    miniprogram_title = models.CharField("小程序标题 Mini-program title", max_length=64, blank=True)
    miniprogram_pic_media_id = models.CharField(
        "小程序封面 Mini-program cover media_id", max_length=128, blank=True,
        help_text="WeCom requires a cover image media_id for a mini-program card; without it a link is sent")
    link_url = models.URLField("链接 Link URL", blank=True)
    link_title = models.CharField("链接标题 Link title", max_length=128, blank=True)
    is_active = models.BooleanField("启用 Active", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "欢迎语 Welcome message"
        verbose_name_plural = "欢迎语 Welcome messages"

    def __str__(self) -> str:
        return self.text[:30]
