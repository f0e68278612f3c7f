// The admin pages' live feed: /api/events read with fetch (so the bearer token can be sent),
// split into server-sent events, each `data:` payload parsed and handed on; the stream is
// opened again when it ends or fails. Browser JavaScript, included in each page's script.

/** Defines `followEvents(url, headers, onMessage)` in the page. */
export const FOLLOW_EVENTS_JS = `
  function followEvents(url, headers, onMessage){
    function open(){
      fetch(url, { headers: headers() }).then(function(r){
        var reader = r.body.getReader(), dec = new TextDecoder(), buf = '';
        function pump(){ return reader.read().then(function(x){
          if (x.done) return setTimeout(open, 1000);
          buf += dec.decode(x.value, { stream: true });
          var parts = buf.split('\\n\\n'); buf = parts.pop();
          parts.forEach(function(p){
            var data = p.split('\\n').filter(function(l){ return l.indexOf('data: ') === 0; }).map(function(l){ return l.slice(6); }).join('\\n');
            if (data) onMessage(JSON.parse(data));
          });
          return pump();
        }); }
        return pump();
      }).catch(function(){ setTimeout(open, 2000); });
    }
    open();
  }
`
