// The call page's logic: one RTCPeerConnection whose SDP and ICE candidates go to the
// peer's page through p2pd (this page's WebSocket, then the peers' TLS channel), never
// through a signaling server. p2pd hands over the STUN/TURN servers it uses itself.
// The page reports its connection state, path and decoded frames back to p2pd, which
// shows them in call.list.
'use strict';

(() => {
	const q = new URLSearchParams(location.search);
	const callId = q.get('id') || '';
	const token = q.get('token') || '';
	// the token is spent by the WebSocket below: keep it out of the address bar and history
	history.replaceState(null, '', '/call?id=' + encodeURIComponent(callId));

	const $ = (id) => document.getElementById(id);
	let pc = null;
	let stream = null;
	let ended = false;
	let statsTimer = null;
	let remoteSet = false;
	const early = []; // remote candidates that came before the remote description
	let chain = Promise.resolve(); // messages are handled one after the other

	const status = (text) => { $('status').textContent = text; };
	const ws = new WebSocket('ws://' + location.host + '/ws?id=' + encodeURIComponent(callId) +
	                         '&token=' + encodeURIComponent(token));
	const send = (o) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(o)); };

	function end(why) {
		if (ended)
			return;
		ended = true;
		if (statsTimer)
			clearInterval(statsTimer);
		if (pc)
			pc.close();
		if (stream)
			stream.getTracks().forEach((t) => t.stop());
		status('call ended' + (why ? ': ' + why : ''));
		$('hangup').disabled = $('mute').disabled = $('camera').disabled = true;
	}

	async function report() {
		if (!pc || ended)
			return;
		const stats = await pc.getStats();
		const byId = new Map();
		let decoded = 0;
		let pairId = null;
		stats.forEach((r) => {
			byId.set(r.id, r);
			if (r.type === 'inbound-rtp' && r.kind === 'video')
				decoded += r.framesDecoded || 0;
			if (r.type === 'transport' && r.selectedCandidatePairId)
				pairId = r.selectedCandidatePairId;
		});
		let path = '';
		const pair = pairId ? byId.get(pairId) : null;
		if (pair) {
			const l = byId.get(pair.localCandidateId);
			const r = byId.get(pair.remoteCandidateId);
			path = (l && l.candidateType === 'relay') || (r && r.candidateType === 'relay')
				? 'relayed' : 'direct';
		}
		if (ended)
			return;
		status(pc.connectionState);
		$('path').textContent = path;
		send({ type: 'stats', connection: pc.connectionState, path: path,
		       frames_decoded: decoded });
	}

	async function makeOffer() {
		const offer = await pc.createOffer();
		await pc.setLocalDescription(offer);
		send({ type: 'offer', sdp: offer.sdp });
	}

	async function remoteDescription(type, sdp) {
		await pc.setRemoteDescription({ type: type, sdp: sdp });
		remoteSet = true;
		for (const c of early.splice(0))
			await pc.addIceCandidate(c);
	}

	async function setup(hello) {
		$('peer').textContent = hello.peer;
		status('opening camera and microphone…');
		stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
		if (ended) {
			stream.getTracks().forEach((t) => t.stop());
			return;
		}
		$('local').srcObject = stream;
		pc = new RTCPeerConnection({ iceServers: hello.ice_servers });
		stream.getTracks().forEach((t) => pc.addTrack(t, stream));
		pc.ontrack = (e) => { $('remote').srcObject = e.streams[0]; };
		pc.onicecandidate = (e) => {
			if (e.candidate && e.candidate.candidate)
				send({ type: 'candidate', candidate: e.candidate.candidate,
				       mid: e.candidate.sdpMid || '', mline: e.candidate.sdpMLineIndex || 0 });
		};
		pc.onconnectionstatechange = report;
		statsTimer = setInterval(report, 1000);
		$('hangup').disabled = $('mute').disabled = $('camera').disabled = false;
		status(hello.role === 'caller' && !hello.accepted ? 'ringing…' : 'connecting…');
		if (hello.role === 'caller' && hello.accepted)
			await makeOffer();
	}

	async function handle(m) {
		if (ended)
			return;
		switch (m.type) {
		case 'hello':
			await setup(m);
			break;
		case 'accept':
			status('connecting…');
			await makeOffer();
			break;
		case 'offer': {
			await remoteDescription('offer', m.sdp);
			const answer = await pc.createAnswer();
			await pc.setLocalDescription(answer);
			send({ type: 'answer', sdp: answer.sdp });
			break;
		}
		case 'answer':
			await remoteDescription('answer', m.sdp);
			break;
		case 'candidate': {
			const c = { candidate: m.candidate, sdpMid: m.mid, sdpMLineIndex: m.mline };
			if (remoteSet)
				await pc.addIceCandidate(c);
			else
				early.push(c);
			break;
		}
		case 'ended':
			end(m.message || m.reason);
			break;
		}
	}

	ws.onmessage = (e) => {
		let m;
		try {
			m = JSON.parse(e.data);
		} catch (err) {
			return;
		}
		chain = chain.then(() => handle(m)).catch((err) => {
			send({ type: 'hangup', message: 'the page failed: ' + err });
			end(String(err));
		});
	};
	ws.onclose = (e) => end(e.reason || 'the connection to p2pd closed');

	$('hangup').onclick = () => {
		send({ type: 'hangup' });
		end('you hung up');
	};
	$('mute').onclick = () => {
		const tracks = stream ? stream.getAudioTracks() : [];
		const on = tracks.length && !tracks[0].enabled;
		tracks.forEach((t) => { t.enabled = on; });
		$('mute').textContent = on ? 'Mute' : 'Unmute';
	};
	$('camera').onclick = () => {
		const tracks = stream ? stream.getVideoTracks() : [];
		const on = tracks.length && !tracks[0].enabled;
		tracks.forEach((t) => { t.enabled = on; });
		$('camera').textContent = on ? 'Camera off' : 'Camera on';
	};
})();
