package handlers

import (
	"html/template"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor/app/i18n"
)

// installTexts are the installer page's texts.
var installTexts = i18n.Catalog[string]{
	i18n.EN: {
		"title":         "Installing Segmentor",
		"pending":       "Preparing your portal…",
		"running":       "Setting up: binding CRM events, adding card tabs and the Segment field…",
		"done":          "Segmentor is installed. Opening the app…",
		"failed":        "Setup did not finish:",
		"retry":         "Try again",
		"bad_request":   "This page must be opened by Bitrix24 while installing the app.",
		"not_confirmed": "Bitrix24 did not confirm this installation, so nothing was changed. Please start the installation again from your portal.",
		"internal":      "Segmentor could not save the installation. Nothing was lost; please try again in a minute.",
		"not_admin":     "Only a Bitrix24 administrator can install Segmentor. Nothing was changed.",
		"busy":          "Your Bitrix24 portal is busy with Segmentor's requests, so this installation could not be confirmed and nothing was changed. Please start the installation again from your portal in a minute.",
	},
	i18n.RU: {
		"title":         "Установка Segmentor",
		"pending":       "Готовим ваш портал…",
		"running":       "Настройка: подписка на события CRM, вкладки в карточках и поле «Сегмент»…",
		"done":          "Segmentor установлен. Открываем приложение…",
		"failed":        "Настройка не завершилась:",
		"retry":         "Повторить",
		"bad_request":   "Эту страницу открывает Битрикс24 при установке приложения.",
		"not_confirmed": "Битрикс24 не подтвердил установку, поэтому ничего не изменено. Начните установку заново с вашего портала.",
		"internal":      "Segmentor не смог сохранить установку. Ничего не потеряно; повторите через минуту.",
		"not_admin":     "Установить Segmentor может только администратор Битрикс24. Ничего не изменено.",
		"busy":          "Ваш портал Битрикс24 занят запросами Segmentor, поэтому установку не удалось подтвердить, и ничего не изменено. Начните установку заново с вашего портала через минуту.",
	},
	i18n.PL: {
		"title":         "Instalacja Segmentor",
		"pending":       "Przygotowujemy Twój portal…",
		"running":       "Konfiguracja: subskrypcja zdarzeń CRM, zakładki w kartach i pole „Segment”…",
		"done":          "Segmentor jest zainstalowany. Otwieramy aplikację…",
		"failed":        "Konfiguracja nie została ukończona:",
		"retry":         "Spróbuj ponownie",
		"bad_request":   "Tę stronę otwiera Bitrix24 podczas instalacji aplikacji.",
		"not_confirmed": "Bitrix24 nie potwierdził tej instalacji, więc nic nie zostało zmienione. Rozpocznij instalację ponownie ze swojego portalu.",
		"internal":      "Segmentor nie mógł zapisać instalacji. Nic nie zostało utracone; spróbuj ponownie za minutę.",
		"not_admin":     "Segmentor może zainstalować tylko administrator Bitrix24. Nic nie zostało zmienione.",
		"busy":          "Twój portal Bitrix24 jest zajęty żądaniami Segmentor, więc nie udało się potwierdzić instalacji i nic nie zostało zmienione. Rozpocznij instalację ponownie ze swojego portalu za minutę.",
	},
	i18n.IT: {
		"title":         "Installazione di Segmentor",
		"pending":       "Stiamo preparando il tuo portale…",
		"running":       "Configurazione: collegamento agli eventi CRM, schede nei record e campo “Segmento”…",
		"done":          "Segmentor è installato. Apertura dell'app…",
		"failed":        "La configurazione non è stata completata:",
		"retry":         "Riprova",
		"bad_request":   "Questa pagina viene aperta da Bitrix24 durante l'installazione dell'app.",
		"not_confirmed": "Bitrix24 non ha confermato questa installazione, quindi non è stato modificato nulla. Avvia di nuovo l'installazione dal tuo portale.",
		"internal":      "Segmentor non è riuscito a salvare l'installazione. Non si è perso nulla; riprova tra un minuto.",
		"not_admin":     "Solo un amministratore di Bitrix24 può installare Segmentor. Non è stato modificato nulla.",
		"busy":          "Il tuo portale Bitrix24 è occupato dalle richieste di Segmentor, quindi non è stato possibile confermare l'installazione e non è stato modificato nulla. Avvia di nuovo l'installazione dal tuo portale tra un minuto.",
	},
}

func installText(lang, key string) string { return installTexts.Text(i18n.Parse(lang), key) }

var installTmpl = template.Must(template.New("install").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.title}}</title>
<style>
body{font:14px/1.5 "Helvetica Neue",Arial,sans-serif;color:#333;background:#fff;margin:0;padding:32px}
h1{font-size:22px;font-weight:400;margin:0 0 16px}
.bar{height:6px;background:#eef2f4;border-radius:3px;overflow:hidden;max-width:480px}
.bar i{display:block;height:100%;width:10%;background:#2fc6f6;transition:width .4s}
.err{color:#c0392b} button{background:#bbed21;border:0;border-radius:2px;padding:9px 20px;font:bold 12px Arial;text-transform:uppercase;cursor:pointer}
</style>
<script src="https://api.bitrix24.com/api/v1/"></script></head>
<body><h1>{{.T.title}}</h1>
{{if .Error}}<p class="err" id="status">{{.Error}}</p>{{else}}
<p id="status">{{.T.pending}}</p><div class="bar"><i id="bar"></i></div>
<p><button id="retry" hidden>{{.T.retry}}</button></p>
<script nonce="{{.Nonce}}">
(function(){
  var T={{.T}}, url={{.StatusURL}}, retryURL={{.RetryURL}}, status=document.getElementById('status'), bar=document.getElementById('bar'), retry=document.getElementById('retry');
  var widths={pending:15,running:60,done:100,failed:100};
  function finish(){ if (window.BX24) { BX24.init(function(){ BX24.installFinish(); }); } }
  function poll(){
    fetch(url).then(function(r){return r.json();}).then(function(s){
      bar.style.width=(widths[s.phase]||10)+'%';
      if (s.phase==='done'){ status.textContent=T.done; finish(); return; }
      if (s.phase==='failed'){ status.textContent=T.failed+' '+s.error; status.className='err'; retry.hidden=false; return; }
      status.textContent=T[s.phase]||T.pending; setTimeout(poll,1000);
    }).catch(function(){ setTimeout(poll,2000); });
  }
  retry.onclick=function(){ retry.hidden=true; fetch(retryURL,{method:'POST'}).then(function(){ status.className=''; poll(); }); };
  poll();
})();
</script>{{end}}
</body></html>`))

// installPage renders the installer: progress while setup runs, then
// BX24.installFinish(); or the error, with nothing changed.
func (h *Bitrix24) installPage(c *gin.Context, status int, lang, memberID, errText string) {
	nonce := newNonce()
	data := map[string]any{"Lang": langOf(lang), "T": installTexts[i18n.Parse(lang)], "Error": errText, "Nonce": nonce}
	if memberID != "" {
		exp := h.now().Add(time.Hour).Unix()
		q := "?member_id=" + url.QueryEscape(memberID) + "&exp=" + strconv.FormatInt(exp, 10) + "&sig=" + h.sign(memberID, exp)
		base := h.Manifest.Handlers.Install
		data["StatusURL"] = base + "/status" + q
		data["RetryURL"] = base + "/retry" + q
	}
	// The progress script is inline, allowed by its nonce; the router's
	// private middleware keeps the signed links out of caches.
	setPagePolicy(c.Writer.Header(), h.installAncestors(c, memberID), nonce)
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	if err := installTmpl.Execute(c.Writer, data); err != nil {
		h.Log.Error("render install page", "error", err)
	}
}

// installAncestors is who may frame the installer: the portal's origin,
// as stored once the install is confirmed, else as Bitrix24 names it in
// the query (DOMAIN, PROTOCOL). The request's word is enough there: the
// page shows nothing but what that same request caused (a refusal is a
// sentence with no link and no button).
func (h *Bitrix24) installAncestors(c *gin.Context, memberID string) string {
	if memberID != "" {
		if p, err := h.Store.Portal(c.Request.Context(), memberID); err == nil {
			if o := portalOrigin(p.ClientEndpoint); o != "" {
				return o
			}
		}
	}
	scheme := "https"
	if c.Query("PROTOCOL") == "0" {
		scheme = "http"
	}
	if host := c.Query("DOMAIN"); hostAndPort.MatchString(host) {
		return scheme + "://" + host
	}
	return "'none'"
}

// hostAndPort is a host name with an optional port, and nothing that could
// end a CSP source or start another.
var hostAndPort = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:[0-9]{1,5})?$`)
