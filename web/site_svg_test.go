package web

import (
	"strings"
	"testing"
)

// TestCheckLogoAllowlist (review of #16): what the old denylist let
// through is refused, and the SVG that drawing programs write for a logo
// (shapes, gradients, a plain <style> of classes, references to #id)
// still passes.
func TestCheckLogoAllowlist(t *testing.T) {
	const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 40 40">`
	for _, tc := range []struct{ name, in, err string }{
		{"xml-stylesheet", `<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/x.css"?>` + svg + `</svg>`, "processing instruction"},
		{"css escape in url", svg + `<style>rect { fill: u\72l(https://evil.example/x) }</style></svg>`, "backslash"},
		{"css escape in import", svg + `<style>@\69mport "https://evil.example/x.css";</style></svg>`, "at-rule"},
		{"comment-split import", svg + `<style>@im<!-- x -->port url(https://evil.example/x.css);</style></svg>`, "at-rule"},
		{"comment-split url", svg + `<style>rect { fill: ur<!-- x -->l(https://evil.example/x) }</style></svg>`, "loads from elsewhere"},
		{"cdata url", svg + `<style><![CDATA[rect { fill: url(https://evil.example/x) }]]></style></svg>`, "loads from elsewhere"},
		{"css comment", svg + `<style>rect { fill: red /* x */ }</style></svg>`, "comment"},
		{"style attribute url", svg + `<rect style="fill: url(https://evil.example/x)"/></svg>`, "loads from elsewhere"},
		{"presentation url", svg + `<rect fill="url(https://evil.example/x#g)"/></svg>`, "loads from elsewhere"},
		{"image-set", svg + `<rect style="fill: image-set('https://evil.example/x.png' 1x)"/></svg>`, "image-set"},
		{"font-face", svg + `<style>@font-face { font-family: x; src: url(https://evil.example/f.woff) }</style></svg>`, "at-rule"},
		{"set href", svg + `<a><set attributeName="href" to="javascript:alert(1)"/><rect/></a></svg>`, "<a> element"},
		{"set", svg + `<rect><set attributeName="fill" to="url(https://evil.example/x)"/></rect></svg>`, "<set> element"},
		{"animate", svg + `<rect><animate attributeName="href" values="https://evil.example/"/></rect></svg>`, "<animate> element"},
		{"foreign namespace element", svg + `<h:img xmlns:h="http://www.w3.org/1999/xhtml" src="https://evil.example/"/></svg>`, "namespace"},
		{"foreign namespace attribute", svg + `<rect xmlns:e="urn:evil" e:x="1"/></svg>`, "namespace"},
		{"use of another file", svg + `<use href="https://evil.example/x.svg#a"/></svg>`, "refers to"},
		{"use of another file by xlink", svg + `<use xlink:href="x.svg#a"/></svg>`, "refers to"},
		{"data href", svg + `<use href="data:image/svg+xml,&lt;svg/&gt;"/></svg>`, "refers to"},
		{"feImage", svg + `<filter id="f"><feImage href="https://evil.example/x.png"/></filter></svg>`, "<feImage> element"},
		{"unknown attribute", svg + `<rect src="https://evil.example/x"/></svg>`, "attribute src"},
		{"event handler", svg + `<rect onclick="alert(1)"/></svg>`, "event handler"},
		{"element-split import", svg + `<style>@<g/>import "https://evil.example/x.css";</style></svg>`, "inside <style>"},
		{"element-split url", svg + `<style>rect { fill: u<g/>rl(https://evil.example/x) }</style></svg>`, "inside <style>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckLogo([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("CheckLogo = %q, %v; want refused with %q", got, err, tc.err)
			}
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"shapes and gradient", testLogoSVG},
		{"illustrator style", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + svg +
			`<defs><style>.cls-1{fill:#a4161a;}.cls-2{fill:url(#g);stroke:#fff;stroke-width:2px;}</style>` +
			`<linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#fff"/><stop offset="1" stop-color="#000" stop-opacity=".5"/></linearGradient>` +
			`<clipPath id="c"><rect width="40" height="40" rx="4"/></clipPath></defs>` +
			`<title>Stadt Münster</title><g clip-path="url(#c)"><path class="cls-1" d="M0 0h40v40H0z"/><circle class="cls-2" cx="20" cy="20" r="10"/></g>` +
			`<use xlink:href="#c"/><text x="2" y="38" font-family="sans-serif" font-size="6" xml:space="preserve">Münster</text></svg>`},
		{"style attribute", svg + `<rect style="fill:#fff;stroke:url('#g')" width="4" height="4"/></svg>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := CheckLogo([]byte(tc.in)); err != nil || got != logoSVGName {
				t.Errorf("CheckLogo = %q, %v; want accepted", got, err)
			}
		})
	}
}
